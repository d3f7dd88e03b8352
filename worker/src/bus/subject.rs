//! NATS subject patterns, as a consumer's filter matches them.

/// Whether `subject` matches `pattern`: `*` stands for one token, a final `>` for one or more.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (literal, Some(actual)) if literal == actual => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_match_as_nats_does() {
        assert!(matches("events.>", "events.acme.order"));
        assert!(!matches("events.>", "events"));
        assert!(matches("events.*.order", "events.acme.order"));
        assert!(!matches("events.*.order", "events.acme.refund"));
        assert!(!matches("events.*", "events.acme.order"));
        assert!(matches("events.acme", "events.acme"));
        assert!(!matches("events.acme", "events.acme.x"));
    }
}
