//! Run tags: the one rule for what a run's tags may be, shared by run creation,
//! `PATCH /api/runs/{id}` and bulk tagging, so that every way in refuses the same
//! input with the same message.

use crate::AppError;

/// Tags one run may carry.
pub const MAX_TAGS: usize = 20;
/// Characters one tag may have.
pub const MAX_TAG_CHARS: usize = 64;

/// A tag as stored: trimmed, 1–64 characters, no control characters.
pub fn validate_tag(field: &str, tag: &str) -> Result<String, AppError> {
    let tag = tag.trim();
    if tag.is_empty() {
        return Err(AppError::invalid(field, "a tag must not be empty"));
    }
    if tag.chars().count() > MAX_TAG_CHARS {
        return Err(AppError::invalid(
            field,
            format!("a tag has at most {MAX_TAG_CHARS} characters, `{tag}` has more"),
        ));
    }
    if tag.chars().any(char::is_control) {
        return Err(AppError::invalid(
            field,
            "a tag must not contain control characters",
        ));
    }
    Ok(tag.to_string())
}

/// A run's tags as stored: each one valid, duplicates dropped (the first kept,
/// order as given), at most [`MAX_TAGS`].
pub fn validate_tags(field: &str, tags: &[String]) -> Result<Vec<String>, AppError> {
    let mut kept: Vec<String> = Vec::with_capacity(tags.len().min(MAX_TAGS));
    for tag in tags {
        let tag = validate_tag(field, tag)?;
        if !kept.contains(&tag) {
            kept.push(tag);
        }
    }
    if kept.len() > MAX_TAGS {
        return Err(AppError::invalid(
            field,
            format!("a run has at most {MAX_TAGS} tags, got {}", kept.len()),
        ));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|tag| tag.to_string()).collect()
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated_in_order() {
        assert_eq!(
            validate_tags("tags", &strings(&[" nightly", "eu", "nightly ", "eu"])).unwrap(),
            strings(&["nightly", "eu"])
        );
    }

    #[test]
    fn empty_long_and_control_tags_are_refused_naming_the_field() {
        for bad in ["", "  ", &"x".repeat(65), "a\nb"] {
            let Err(AppError::Invalid { field, .. }) = validate_tags("tags", &strings(&[bad]))
            else {
                panic!("{bad:?} was accepted");
            };
            assert_eq!(field, "tags");
        }
        assert!(validate_tag("tag", &"é".repeat(64)).is_ok());
    }

    #[test]
    fn at_most_twenty_distinct_tags() {
        let twenty: Vec<String> = (0..20).map(|n| format!("t{n}")).collect();
        assert_eq!(validate_tags("tags", &twenty).unwrap().len(), 20);
        let mut twenty_one = twenty.clone();
        twenty_one.push("t20".into());
        let Err(AppError::Invalid { message, .. }) = validate_tags("tags", &twenty_one) else {
            panic!("21 tags were accepted");
        };
        assert!(message.contains("at most 20"), "{message}");
        // Duplicates do not count twice.
        twenty_one[20] = "t0".into();
        assert_eq!(validate_tags("tags", &twenty_one).unwrap().len(), 20);
    }
}
