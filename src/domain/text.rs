//! Free text a client names things with (file names, titles, subjects): each rule is written
//! once here, both as the check and as the pattern the OpenAPI document states, so the two
//! cannot drift apart.

/// Control characters (Unicode `Cc`, what `char::is_control` refuses), as a regex class body:
/// the characters themselves, not `\u` escapes, which some regex engines (RE2) do not read.
const CONTROLS: &str = "\u{0}-\u{1F}\u{7F}-\u{9F}";

/// What `str::trim` removes (Unicode `White_Space`), spelled out so a pattern means the same
/// in every regex engine (`\s` differs between them).
const WHITESPACE: &str = "\u{9}-\u{D}\u{20}\u{85}\u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}";

/// A text rule: at most `max_chars` characters as sent, none of them a control character or
/// one of `forbidden`, and at least one that is neither whitespace nor one of `filler`.
#[derive(Clone, Copy, Debug)]
pub struct TextRule {
    pub max_chars: usize,
    /// Characters refused anywhere (besides control characters).
    pub forbidden: &'static str,
    /// Characters that alone do not make a name (besides whitespace).
    pub filler: &'static str,
}

impl TextRule {
    /// The text without surrounding whitespace, if it follows the rule.
    pub fn check<'a>(&self, raw: &'a str) -> Option<&'a str> {
        let refused = |c: char| c.is_control() || self.forbidden.contains(c);
        let meaningful = |c: char| !c.is_whitespace() && !self.filler.contains(c);
        let fits = raw.chars().count() <= self.max_chars
            && !raw.chars().any(refused)
            && raw.chars().any(meaningful);
        fits.then(|| raw.trim())
    }

    /// The rule as an ECMA-262 pattern (the length is the document's `maxLength`).
    pub fn pattern(&self) -> String {
        let forbidden = escape_in_class(self.forbidden);
        let filler = escape_in_class(self.filler);
        let allowed = format!("[^{CONTROLS}{forbidden}]");
        format!("^{allowed}*[^{CONTROLS}{forbidden}{WHITESPACE}{filler}]{allowed}*$")
    }
}

/// `text` as PostgreSQL can store it: it keeps no NUL character, so each becomes U+FFFD.
pub fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}").into()
    } else {
        text.into()
    }
}

/// A JSON value as PostgreSQL's `jsonb` can store it: NUL in any string or key becomes U+FFFD.
pub fn storable_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(text) => Value::String(storable(&text).into_owned()),
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (storable(&key).into_owned(), storable_json(value)))
                .collect(),
        ),
        other => other,
    }
}

/// Characters escaped for use inside a regex character class.
fn escape_in_class(chars: &str) -> String {
    chars
        .chars()
        .map(|c| match c {
            '\\' | ']' | '[' | '^' | '-' => format!("\\{c}"),
            _ => c.to_string(),
        })
        .collect()
}

/// A file name: no path, so `.` and `..` (and any name of dots alone) are refused too.
pub const FILENAME: TextRule = TextRule {
    max_chars: 255,
    forbidden: "/\\",
    filler: ".",
};

/// A title shown on the platform.
pub const TITLE: TextRule = TextRule {
    max_chars: 200,
    forbidden: "",
    filler: "",
};

/// Who a development token is for.
pub const SUBJECT: TextRule = TextRule {
    max_chars: 200,
    forbidden: "",
    filler: "",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded_as_sent() {
        assert_eq!(FILENAME.check(" clip.mp4 "), Some("clip.mp4"));
        assert_eq!(
            FILENAME.check(&"x".repeat(255)),
            Some("x".repeat(255).as_str())
        );
        assert_eq!(FILENAME.check(&"x".repeat(256)), None);
        // Counted in characters, as JSON Schema's maxLength counts them.
        assert!(FILENAME.check(&"東".repeat(255)).is_some());
        assert_eq!(FILENAME.check(&format!(" {}", "x".repeat(255))), None);
        for bad in [
            "", "   ", ".", "..", " . ", "a/b", "a\\b", "a\nb", "a\u{85}b", "\u{3000}",
        ] {
            assert_eq!(FILENAME.check(bad), None, "{bad:?}");
        }
        assert_eq!(TITLE.check("..."), Some("..."));
    }

    #[test]
    fn nul_becomes_a_replacement_character_where_postgresql_cannot_keep_it() {
        assert_eq!(storable("a\0b"), "a\u{FFFD}b");
        assert_eq!(
            storable_json(serde_json::json!({"k\0": ["v\0", 1, {"x": "\0"}]})),
            serde_json::json!({"k\u{FFFD}": ["v\u{FFFD}", 1, {"x": "\u{FFFD}"}]})
        );
    }

    #[test]
    fn the_pattern_describes_the_check() {
        let pattern = regex_lite::Regex::new(&FILENAME.pattern()).unwrap();
        for sample in [
            "clip.mp4",
            " clip ",
            "...",
            ". .x",
            "a/b",
            "a\\b",
            "a\tb",
            "\u{2003}",
            "ñ 東京",
            "..",
            "x\u{9f}",
            "\u{feff}",
        ] {
            assert_eq!(
                pattern.is_match(sample),
                FILENAME.check(sample).is_some(),
                "{sample:?}"
            );
        }
    }
}
