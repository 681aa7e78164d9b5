//! The digital access switches (DESIGN §2.3).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SwitchName {
    /// Access to the logged-in services as a whole.
    Services,
    /// Digital access to the patient record.
    PatientRecord,
    /// Digital access to the summary care record on the portal.
    SummaryCareRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SwitchAccess {
    Open,
    Removed,
}

/// One switch's state.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SwitchState {
    pub switch: SwitchName,
    pub access: SwitchAccess,
    /// When it was last changed; absent when never.
    pub changed_at: Option<DateTime<Utc>>,
}

/// The switches of the caller, or (with `X-Acting-For`) of a child the caller is guardian of.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89",
    "switches": [
        {"switch": "services", "access": "open", "changed_at": null},
        {"switch": "patient_record", "access": "removed", "changed_at": "2026-11-30T09:25:12Z"},
        {"switch": "summary_care_record", "access": "open", "changed_at": null}
    ],
    "summary_care_record_opt_out_changed": false,
    "note": "Removing digital access hides information on this portal only. It does not opt you out of the summary care record: health personnel still see it. Opting out is a separate choice."
}))]
pub struct AccessSwitchesBody {
    /// Whose switches these are (opaque portal id).
    pub subject_id: String,
    pub switches: Vec<SwitchState>,
    /// Always `false`: a switch hides data on the portal only; it never opts out of the summary
    /// care record.
    pub summary_care_record_opt_out_changed: bool,
    /// What the switches do not do, in plain words.
    pub note: String,
}

/// Set one switch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"access": "removed"}))]
pub struct SetSwitch {
    pub access: SwitchAccess,
}
