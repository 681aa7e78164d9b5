//! Finds what looks like an identity number in log text: a run of exactly 11 digits that is not
//! part of a longer word (so the hex of a request id or a hash does not count).

/// The lines of `text` holding an 11-digit number.
pub fn lines_with_identity_numbers(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| has_eleven_digit_run(line))
        .map(str::to_owned)
        .collect()
}

fn has_eleven_digit_run(line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let before = start.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i).copied();
            let in_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            if i - start == 11 && !in_word(before) && !in_word(after) {
                return true;
            }
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_and_ignores_hex_words() {
        assert!(has_eleven_digit_run("pid=10829241876 logged in"));
        assert!(has_eleven_digit_run("\"10829241876\""));
        assert!(!has_eleven_digit_run("request_id=5b1e-a12345678901"));
        assert!(!has_eleven_digit_run("1234567890"));
        assert!(!has_eleven_digit_run("123456789012"));
        assert!(!has_eleven_digit_run("2026-11-23T11:37:37.634237Z"));
    }
}
