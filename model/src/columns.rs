//! The columns of a runs list: `fields=` of `GET /api/runs` and of the export, a
//! saved view's columns and the dashboard's added input columns all name them the
//! same way (`id,status,input.company.name`), checked here once, and a list item is
//! projected to exactly those columns here once.

use crate::{AppError, RunRow};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// The list item's own fields, by their JSON names, in the order a full item has them.
pub const RUN_ROW_FIELDS: [&str; 16] = [
    "id",
    "agent",
    "campaign",
    "status",
    "progress",
    "initiator",
    "summary",
    "createdAt",
    "startedAt",
    "completedAt",
    "durationMs",
    "input",
    "webhookStatus",
    "tags",
    "error",
    "lastSeenAt",
];

/// Most columns one list may ask for.
pub const MAX_COLUMNS: usize = 50;

/// A checked list of columns: each one of [`RUN_ROW_FIELDS`] or `input.<path>`
/// (one field of the run's input, by dotted path; array elements by index).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns(Vec<String>);

impl Columns {
    /// Reads `fields=id,status,input.company.name`; `field` names the parameter in
    /// the error. Duplicates are dropped; an empty list means every field.
    pub fn parse(field: &str, list: &str) -> Result<Columns, AppError> {
        Columns::from_names(field, list.split(','))
    }

    /// Checks column names, as [`Columns::parse`] does.
    pub fn from_names<'a>(
        field: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Columns, AppError> {
        let mut columns: Vec<String> = Vec::new();
        for name in names
            .into_iter()
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if !is_column(name) {
                return Err(AppError::invalid(
                    field,
                    format!(
                        "unknown column `{name}`: use {} or input.<path> (such as input.company.name)",
                        RUN_ROW_FIELDS.join(", ")
                    ),
                ));
            }
            if !columns.iter().any(|known| known == name) {
                columns.push(name.to_string());
            }
        }
        if columns.len() > MAX_COLUMNS {
            return Err(AppError::invalid(
                field,
                format!("at most {MAX_COLUMNS} columns, got {}", columns.len()),
            ));
        }
        Ok(Columns(columns))
    }

    /// Every field of a list item.
    pub fn all() -> Columns {
        Columns(RUN_ROW_FIELDS.iter().map(|name| name.to_string()).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// The input paths among the columns (`input.company.name` → `company.name`).
    pub fn input_paths(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter_map(|name| name.strip_prefix("input."))
            .collect()
    }

    /// The columns as `fields=` takes them.
    pub fn to_param(&self) -> String {
        self.0.join(",")
    }

    /// A list item cut down to these columns (every field when there are none),
    /// in their order; an input field the run does not have is `null`.
    pub fn project(&self, row: &RunRow) -> ProjectedRow {
        let Ok(Value::Object(mut full)) = serde_json::to_value(row) else {
            return ProjectedRow(Vec::new());
        };
        let names: Vec<&str> = if self.0.is_empty() {
            RUN_ROW_FIELDS.to_vec()
        } else {
            self.0.iter().map(String::as_str).collect()
        };
        ProjectedRow(
            names
                .into_iter()
                .map(|name| {
                    let value = match name.strip_prefix("input.") {
                        Some(path) => input_field(&row.input, path)
                            .cloned()
                            .unwrap_or(Value::Null),
                        None => full.remove(name).unwrap_or(Value::Null),
                    };
                    (name.to_string(), value)
                })
                .collect(),
        )
    }
}

/// A list item cut down to some columns: `(column, value)` in column order,
/// serialized as a JSON object in that order.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectedRow(pub Vec<(String, Value)>);

impl Serialize for ProjectedRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

fn is_column(name: &str) -> bool {
    match name.strip_prefix("input.") {
        Some(path) => path.len() <= 200 && path.split('.').all(|segment| !segment.is_empty()),
        None => RUN_ROW_FIELDS.contains(&name),
    }
}

/// One field of an input by dotted path (`company.name`, `items.0.sku`).
pub fn input_field<'a>(input: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(input, |value, segment| match value {
            Value::Object(fields) => fields.get(segment),
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
            _ => None,
        })
}

/// Only the fields of `input` at `paths`, where they are, nested as objects (an
/// array index becomes an object key, which [`input_field`] reads alike): what a
/// list that shows these input columns needs of a run's input, and no more.
pub fn input_subset(input: &Value, paths: &[&str]) -> Value {
    let mut kept = Value::Null;
    for path in paths {
        let Some(value) = input_field(input, path) else {
            continue;
        };
        let mut slot = &mut kept;
        for segment in path.split('.') {
            if !slot.is_object() {
                *slot = Value::Object(Default::default());
            }
            let Value::Object(fields) = slot else {
                unreachable!("made an object just above")
            };
            slot = fields.entry(segment).or_insert(Value::Null);
        }
        *slot = value.clone();
    }
    kept
}

/// A value as one cell of text (CSV, a table column): strings bare, `null` empty,
/// anything else as JSON.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunStatus, WebhookStatus};
    use serde_json::json;

    #[test]
    fn an_input_subset_keeps_only_the_shown_paths_readable_alike() {
        let input = json!({"company": {"name": "Stripe", "size": 10}, "items": [{"sku": "a"}, {"sku": "b"}], "secret": "x"});
        let paths = ["company.name", "items.1.sku", "missing.path"];
        let kept = input_subset(&input, &paths);
        assert_eq!(
            kept,
            json!({"company": {"name": "Stripe"}, "items": {"1": {"sku": "b"}}})
        );
        for path in paths {
            assert_eq!(
                input_field(&kept, path),
                input_field(&input, path),
                "{path}"
            );
        }
        assert_eq!(input_subset(&input, &[]), Value::Null);
    }

    fn row() -> RunRow {
        RunRow {
            id: uuid::Uuid::nil(),
            agent: "crawler".into(),
            campaign: None,
            status: RunStatus::Failed,
            progress: 0.5,
            initiator: Some("schedule".into()),
            summary: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            started_at: None,
            completed_at: None,
            duration_ms: Some(1200),
            input: json!({"company": {"name": "Stripe"}, "urls": ["a", "b"]}),
            webhook_status: WebhookStatus::Pending,
            tags: vec!["nightly".into()],
            error: None,
            last_seen_at: None,
        }
    }

    #[test]
    fn every_field_of_a_list_item_is_a_column() {
        let full = Columns::default().project(&row());
        let keys: Vec<&str> = full.0.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(keys, RUN_ROW_FIELDS);
        // Nothing of the item is left out of the full projection.
        let Value::Object(item) = serde_json::to_value(row()).unwrap() else {
            panic!("a list item is an object");
        };
        assert_eq!(item.len(), RUN_ROW_FIELDS.len());
    }

    #[test]
    fn projection_keeps_exactly_the_columns_in_order() {
        let columns = Columns::parse(
            "fields",
            "status, input.company.name,id,input.urls.1,input.nope,status",
        )
        .unwrap();
        let projected = serde_json::to_string(&columns.project(&row())).unwrap();
        assert_eq!(
            projected,
            format!(
                r#"{{"status":"failed","input.company.name":"Stripe","id":"{}","input.urls.1":"b","input.nope":null}}"#,
                uuid::Uuid::nil()
            )
        );
    }

    #[test]
    fn unknown_columns_are_refused_naming_the_parameter() {
        for bad in ["nope", "input.", "input..x", "Status"] {
            let Err(AppError::Invalid { field, message }) = Columns::parse("fields", bad) else {
                panic!("{bad} was accepted");
            };
            assert_eq!(field, "fields");
            assert!(message.contains("unknown column"), "{message}");
        }
        let many: Vec<String> = (0..51).map(|n| format!("input.f{n}")).collect();
        assert!(Columns::parse("fields", &many.join(",")).is_err());
    }

    #[test]
    fn cells_are_bare_text() {
        assert_eq!(cell_text(&json!("Stripe")), "Stripe");
        assert_eq!(cell_text(&Value::Null), "");
        assert_eq!(cell_text(&json!(["a"])), r#"["a"]"#);
        assert_eq!(cell_text(&json!(2.5)), "2.5");
    }
}
