//! Assurance levels (`acr`) as ID-porten names them, and the rule that changes need a high one.

use std::fmt;

/// An ID-porten level of assurance. Ordered: `Substantial < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assurance {
    /// `idporten-loa-substantial` (e.g. MinID).
    Substantial,
    /// `idporten-loa-high` (e.g. BankID).
    High,
}

impl Assurance {
    pub const ALL: [Assurance; 2] = [Assurance::Substantial, Assurance::High];

    pub fn as_acr(self) -> &'static str {
        match self {
            Assurance::Substantial => "idporten-loa-substantial",
            Assurance::High => "idporten-loa-high",
        }
    }

    /// Reads an `acr` value. Unknown values are `None`: they grant nothing.
    pub fn from_acr(acr: &str) -> Option<Assurance> {
        Assurance::ALL.into_iter().find(|a| a.as_acr() == acr)
    }
}

impl fmt::Display for Assurance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_acr())
    }
}

/// May a session logged in at `session` make a change that requires `required`?
/// A session whose `acr` was missing or unknown may read but never change.
pub fn may_change(session: Option<Assurance>, required: Assurance) -> bool {
    session.is_some_and(|level| level >= required)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_idporten_levels_and_nothing_else() {
        assert_eq!(
            Assurance::from_acr("idporten-loa-high"),
            Some(Assurance::High)
        );
        assert_eq!(
            Assurance::from_acr("idporten-loa-substantial"),
            Some(Assurance::Substantial)
        );
        assert_eq!(Assurance::from_acr("Level4"), None);
        assert_eq!(Assurance::from_acr(""), None);
        assert_eq!(Assurance::from_acr("IDPORTEN-LOA-HIGH"), None);
    }

    #[test]
    fn changes_need_the_required_level_or_above() {
        assert!(may_change(Some(Assurance::High), Assurance::High));
        assert!(!may_change(Some(Assurance::Substantial), Assurance::High));
        assert!(may_change(
            Some(Assurance::Substantial),
            Assurance::Substantial
        ));
        assert!(may_change(Some(Assurance::High), Assurance::Substantial));
        assert!(!may_change(None, Assurance::Substantial));
    }
}
