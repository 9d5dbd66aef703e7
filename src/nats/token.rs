//! An instance id as a token of a NATS subject (`<stream>.events.<token>.<Kind>`).
//!
//! A NATS token cannot hold `.` (it separates tokens), must not be `*` or `>` (wildcards),
//! cannot hold white space, and the NATS documentation recommends letters, digits, `-` and
//! `_` only. An id's token must also be **unique** and **reversible**: the stream refuses a
//! second message on a subject, so two ids on one token would refuse each other's events,
//! and an id whose token changed would run again. So:
//!
//! - a **number** is its decimal digits, as it always was (`17`): existing streams keep
//!   their subjects byte for byte;
//! - a **string** is `_` followed by its UTF-8 bytes, each ASCII letter, digit and `-` as
//!   it is and every other byte (`_` itself, `.`, `*`, `>`, a space, each byte of a non-ASCII
//!   character) as `_` and two upper-case hex digits: `T-2026-0001` is `_T-2026-0001`, `a.b`
//!   is `_a_2Eb`, `a_b` is `_a_5Fb`, `ü` is `_C3_BC`.
//!
//! A string's token begins with `_`, a number's with a digit, so the two never meet (the
//! string `"17"` is `_17`). Within strings, each byte has one spelling and `_` always begins
//! an escape, so distinct strings have distinct tokens and a token reads back as one string
//! ([`instance_of`]). The token is plain ASCII, never empty, never a wildcard, and readable
//! where the id is (a stream's subjects list as the ids were written, but for the odd
//! character). It is at most `1 + 3 x MAX_TEXT_ID` = 385 bytes: well within the 4 KiB a
//! NATS protocol line may take. Base32 or base64url would be shorter for odd ids, but
//! unreadable for every id, including the common `T-2026-0001`.

use std::fmt::Write;

use crate::input::InstanceId;

/// What begins a string id's token: never a digit, so never a number's.
const STRING: char = '_';

/// The token of `id` in its events' subjects (see the [module](self) documentation).
pub fn token(id: InstanceId) -> String {
    let mut token = String::new();
    push_token(&mut token, id);
    token
}

/// Appends the token of `id` to `out`.
pub fn push_token(out: &mut String, id: InstanceId) {
    match id.number() {
        Some(n) => out.push_str(itoa::Buffer::new().format(n)),
        // A text the table forgot has no subject of its own: it gets one that no event has
        // (its placeholder's token). Held texts (instances in flight) are never forgotten.
        None => match id.as_text() {
            Some(text) => push_escaped(out, &text),
            None => push_escaped(out, &id.to_string()),
        },
    }
}

/// Appends the token of the string `text` to `out`.
fn push_escaped(out: &mut String, text: &str) {
    out.reserve(1 + text.len());
    out.push(STRING);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "{STRING}{byte:02X}");
        }
    }
}

/// The id whose token `token` is, as written: a number's digits, or a string's text; `None`
/// for a token no id has (its spelling is not the one [`token`] makes).
pub fn instance_of(token: &str) -> Option<String> {
    let Some(escaped) = token.strip_prefix(STRING) else {
        let number = token.parse().ok().and_then(InstanceId::new)?;
        return (self::token(number) == token).then(|| token.to_owned());
    };
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            bytes.push(byte);
            continue;
        }
        let (&[high, low], after) = rest.split_first_chunk::<2>()?;
        let upper_hex = |digit: u8| matches!(digit, b'0'..=b'9' | b'A'..=b'F');
        if char::from(byte) != STRING || !upper_hex(high) || !upper_hex(low) {
            return None;
        }
        let value = u8::from_str_radix(std::str::from_utf8(&[high, low]).ok()?, 16).ok()?;
        if value.is_ascii_alphanumeric() || value == b'-' {
            // Written as itself, never escaped.
            return None;
        }
        bytes.push(value);
        rest = after;
    }
    let text = String::from_utf8(bytes).ok()?;
    crate::input::ids::check_text(&text).ok().map(|()| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(id: &str) -> InstanceId {
        InstanceId::text(id).expect("a valid id")
    }

    /// Ids that a subject cannot hold as they are: NATS's separators, wildcards, white
    /// space, the escape itself, non-ASCII, and strings that look like numbers.
    const TRICKY: [&str; 16] = [
        "T-2026-0001",
        "3f2c1a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f",
        "a.b",
        "a_b",
        "a_2Eb",
        "_a",
        "*",
        ">",
        "a b",
        "a\u{a0}b",
        "ünï cödé",
        "chemin/à/suivre",
        "$JS",
        "17",
        "0017",
        "日本",
    ];

    /// Every id reads back from its token as written, numbers as their digits.
    #[test]
    fn a_token_reads_back_as_its_id() {
        for id in TRICKY {
            assert_eq!(instance_of(&token(text(id))).as_deref(), Some(id), "{id}");
        }
        for n in [1, 17, 9_000_000_000] {
            let id = InstanceId::new(n).expect("a number");
            assert_eq!(token(id), n.to_string(), "numbers keep their subjects");
            assert_eq!(instance_of(&token(id)), Some(n.to_string()));
        }
    }

    /// Different ids have different tokens, however alike: `a.b` and `a_b`, the string
    /// `"17"` and the number 17, a string and its own escape written out.
    #[test]
    fn different_ids_have_different_tokens() {
        let mut tokens: Vec<String> = TRICKY.iter().map(|id| token(text(id))).collect();
        tokens.push(token(InstanceId::new(17).expect("a number")));
        let mut distinct = tokens.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), tokens.len(), "{tokens:?}");
        assert_eq!(token(text("a.b")), "_a_2Eb");
        assert_eq!(token(text("a_b")), "_a_5Fb");
        assert_eq!(token(text("a_2Eb")), "_a_5F2Eb");
        assert_eq!(token(text("17")), "_17");
    }

    /// A token is a valid NATS subject token: not empty, plain ASCII letters, digits, `-` and
    /// `_`, so no `.`, wildcard, white space or `$` prefix; the longest id fits a subject.
    #[test]
    fn a_token_is_a_valid_subject_token() {
        let longest = "ü".repeat(crate::input::ids::MAX_TEXT_ID / 2);
        for id in TRICKY.iter().copied().chain([longest.as_str()]) {
            let token = token(text(id));
            assert!(!token.is_empty() && !token.starts_with('$'), "{token}");
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}: {token}"
            );
            assert!(token.len() <= 1 + 3 * crate::input::ids::MAX_TEXT_ID);
        }
    }

    /// A token spelled otherwise than [`token`] spells it is no id's: that would put one id
    /// on two subjects.
    #[test]
    fn a_token_spelled_otherwise_is_no_ids() {
        for odd in [
            "", "_", "0", "017", "-1", "_a_2e", "_a_2", "_a_41", "_a.b", "_a_ZZ", "_a_0A", "_a_C3",
        ] {
            assert_eq!(instance_of(odd), None, "{odd}");
        }
    }
}
