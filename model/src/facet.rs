//! The dashboard's filters as views of the one runs query (`q`). A facet is the
//! query's top-level terms of one kind (ANDed with the rest, not negated, not
//! under an OR): the status chips, the time presets, the chart's bars and the
//! filter fields read their values from `q` and write them back into it, so the
//! search box and the filters always say the same thing. Writing a facet keeps
//! the query's other terms (in their canonical form, [`Query`]'s display).
//!
//! The list's separate URL parameters of the same meaning (`status=`, `agent=`,
//! `createdAfter=`…) stay valid for links and the API; the dashboard moves them
//! into `q` when it next writes the query ([`Facet::param`]).

use crate::query::{value_text, Cmp, Expr, Query, QueryError, TermKind};
use crate::{RunFilter, RunStatus};

/// One filter the dashboard shows beside the search box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Facet {
    /// `status:failed,cancelled` (the status chips).
    Status,
    /// `agent:<slug>`.
    Agent,
    /// `initiator:<name>`.
    Initiator,
    /// `created:>=<date>`, or `created:>-24h` for a time preset.
    CreatedFrom,
    /// `created:<<date>`.
    CreatedBefore,
    /// `duration:>=90s`.
    MinDuration,
    /// `duration:<=5m`.
    MaxDuration,
}

impl Facet {
    pub const ALL: [Facet; 7] = [
        Facet::Status,
        Facet::Agent,
        Facet::Initiator,
        Facet::CreatedFrom,
        Facet::CreatedBefore,
        Facet::MinDuration,
        Facet::MaxDuration,
    ];

    /// The runs list's URL parameter that says the same.
    pub fn param(self) -> &'static str {
        match self {
            Facet::Status => "status",
            Facet::Agent => "agent",
            Facet::Initiator => "initiator",
            Facet::CreatedFrom => "createdAfter",
            Facet::CreatedBefore => "createdBefore",
            Facet::MinDuration => "minDurationMs",
            Facet::MaxDuration => "maxDurationMs",
        }
    }

    /// The facet's value as the parameter's `value` says it, as `q` writes it:
    /// durations travel in milliseconds there and read with a unit here.
    pub fn from_param(self, value: &str) -> String {
        match self {
            Facet::MinDuration | Facet::MaxDuration => value
                .trim()
                .parse::<i64>()
                .map(crate::format_duration_amount)
                .unwrap_or_else(|_| value.trim().to_string()),
            _ => value.trim().to_string(),
        }
    }

    fn holds(self, kind: &TermKind) -> bool {
        match (self, kind) {
            (Facet::Status, TermKind::Status(_))
            | (Facet::Agent, TermKind::Agent(_))
            | (Facet::Initiator, TermKind::Initiator(_)) => true,
            (Facet::CreatedFrom, TermKind::Created(cmp, _))
            | (Facet::MinDuration, TermKind::Duration(cmp, _)) => {
                matches!(cmp, Cmp::Gt | Cmp::Ge)
            }
            (Facet::CreatedBefore, TermKind::Created(cmp, _))
            | (Facet::MaxDuration, TermKind::Duration(cmp, _)) => {
                matches!(cmp, Cmp::Lt | Cmp::Le)
            }
            _ => false,
        }
    }

    /// The facet's value in `q` as a field shows it (`failed,cancelled`,
    /// `crawler`, `2026-11-01`, `-24h`, `90s`); empty when `q` has none or
    /// does not parse.
    pub fn read(self, q: &str) -> String {
        top_level(q)
            .ok()
            .unwrap_or_default()
            .iter()
            .find_map(|item| match item {
                Expr::Term(term) if self.holds(&term.kind) => Some(value_of(&term.kind)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The statuses the [`Facet::Status`] of `q` names (none: every status).
    pub fn statuses(q: &str) -> Vec<RunStatus> {
        RunFilter::parse_statuses(&Facet::Status.read(q)).unwrap_or_default()
    }

    /// `q` with this facet set to `value` (an empty value takes it out), its
    /// other terms kept. A `q` or a value that does not parse is the parser's
    /// error (for a value, its message names the filter).
    pub fn write(self, q: &str, value: &str) -> Result<String, QueryError> {
        let value = self.from_param(value);
        if !value.is_empty() {
            self.check(&value)?;
        }
        Ok(FacetedQuery::parse(q)?.with(&[(self, value)]))
    }

    /// Whether `value` (as [`Facet::from_param`] gives it) makes one term of this facet.
    fn check(self, value: &str) -> Result<(), QueryError> {
        let parsed = Query::parse(&self.term_text(value)).map_err(|error| QueryError {
            position: 0,
            message: format!("{}: {}", self.label(), error.message),
        })?;
        match parsed.map(|query| query.expr) {
            Some(Expr::Term(term)) if self.holds(&term.kind) => Ok(()),
            _ => Err(QueryError {
                position: 0,
                message: format!("{}: {value} is not one value", self.label()),
            }),
        }
    }

    /// The term that sets this facet to `value`, as query text (the value as
    /// given: check a reader's value with [`Facet::write`]).
    pub fn term_text(self, value: &str) -> String {
        match self {
            Facet::Status => format!("status:{value}"),
            Facet::Agent => format!("agent:{}", value_text(value)),
            Facet::Initiator => format!("initiator:{}", value_text(value)),
            // A time ago reads "created within the last day"; a date includes its day.
            Facet::CreatedFrom if value.starts_with('-') => format!("created:>{value}"),
            Facet::CreatedFrom => format!("created:>={value}"),
            Facet::CreatedBefore => format!("created:<{value}"),
            Facet::MinDuration => format!("duration:>={value}"),
            Facet::MaxDuration => format!("duration:<={value}"),
        }
    }

    /// How the filter is named in an error.
    fn label(self) -> &'static str {
        match self {
            Facet::Status => "status",
            Facet::Agent => "agent",
            Facet::Initiator => "initiator",
            Facet::CreatedFrom => "created from",
            Facet::CreatedBefore => "created before",
            Facet::MinDuration => "min duration",
            Facet::MaxDuration => "max duration",
        }
    }
}

/// A query parsed once to have its facets set many times over: the links of
/// the status chips, the time presets and each bar of the chart. Each top-level
/// item is kept as its canonical text with the facet that holds it, so a link
/// costs a join, not a parse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FacetedQuery {
    items: Vec<(Option<Facet>, String)>,
}

impl FacetedQuery {
    pub fn parse(q: &str) -> Result<FacetedQuery, QueryError> {
        let items = top_level(q)?
            .into_iter()
            .map(|item| {
                let facet = match &item {
                    Expr::Term(term) => {
                        Facet::ALL.into_iter().find(|facet| facet.holds(&term.kind))
                    }
                    _ => None,
                };
                let text = match &item {
                    Expr::Or(_) | Expr::And(_) => format!("({item})"),
                    _ => item.to_string(),
                };
                (facet, text)
            })
            .collect();
        Ok(FacetedQuery { items })
    }

    /// The query with these facets set (an empty value takes one out). The
    /// values are written as given: the dashboard's own (status names, dates,
    /// times), or checked by [`Facet::write`].
    pub fn with(&self, set: &[(Facet, String)]) -> String {
        let replaced = |facet: &Option<Facet>| {
            facet.is_some_and(|facet| set.iter().any(|(each, _)| *each == facet))
        };
        let mut parts: Vec<String> = self
            .items
            .iter()
            .filter(|(facet, _)| !replaced(facet))
            .map(|(_, text)| text.clone())
            .collect();
        for (facet, value) in set {
            let value = facet.from_param(value);
            if !value.is_empty() {
                parts.push(facet.term_text(&value));
            }
        }
        parts.join(" ")
    }
}

/// The items ANDed at the top of `q` (one, for a query of one term or one OR).
fn top_level(q: &str) -> Result<Vec<Expr>, QueryError> {
    Ok(match Query::parse(q)? {
        None => Vec::new(),
        Some(Query {
            expr: Expr::And(items),
        }) => items,
        Some(query) => vec![query.expr],
    })
}

/// A facet term's value, as its field shows it.
fn value_of(kind: &TermKind) -> String {
    match kind {
        TermKind::Status(statuses) => statuses
            .iter()
            .map(|status| status.as_str())
            .collect::<Vec<_>>()
            .join(","),
        TermKind::Agent(value) | TermKind::Initiator(value) => value.clone(),
        TermKind::Created(_, when) => when.to_string(),
        TermKind::Duration(_, amount) => amount.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(facet: Facet, q: &str, value: &str) -> String {
        facet
            .write(q, value)
            .unwrap_or_else(|error| panic!("{q} + {value}: {error}"))
    }

    #[test]
    fn a_facet_reads_and_rewrites_its_top_level_term_only() {
        let q = "stripe status:failed (agent:a OR agent:b) -initiator:ci";
        assert_eq!(Facet::Status.read(q), "failed");
        assert_eq!(Facet::statuses(q), [RunStatus::Failed]);
        // Under an OR or a NOT a term is not the facet's.
        assert_eq!(Facet::Agent.read(q), "");
        assert_eq!(Facet::Initiator.read(q), "");
        assert_eq!(
            write(Facet::Status, q, "failed,cancelled"),
            "stripe (agent:a OR agent:b) -initiator:ci status:failed,cancelled"
        );
        assert_eq!(
            write(Facet::Status, q, ""),
            "stripe (agent:a OR agent:b) -initiator:ci"
        );
        assert_eq!(
            write(Facet::Agent, "", "my crawler"),
            "agent:\"my crawler\""
        );
        assert_eq!(Facet::Agent.read("agent:\"my crawler\""), "my crawler");
        assert_eq!(
            write(Facet::Status, "a OR b", "running"),
            "(a OR b) status:running"
        );
        assert_eq!(write(Facet::Status, "status:running", ""), "");
    }

    #[test]
    fn times_and_durations_read_as_fields_show_them() {
        let q = write(Facet::CreatedFrom, "", "-24h");
        assert_eq!(q, "created:>-24h");
        assert_eq!(Facet::CreatedFrom.read(&q), "-24h");
        assert_eq!(Facet::CreatedBefore.read(&q), "");
        let q = write(Facet::CreatedFrom, &q, "2026-11-01");
        assert_eq!(q, "created:>=2026-11-01");
        let q = write(Facet::CreatedBefore, &q, "2026-11-08");
        assert_eq!(Facet::CreatedFrom.read(&q), "2026-11-01");
        assert_eq!(Facet::CreatedBefore.read(&q), "2026-11-08");
        let q = write(Facet::MinDuration, &q, "90s");
        let q = write(Facet::MaxDuration, &q, "5m");
        assert_eq!(Facet::MinDuration.read(&q), "90s");
        assert_eq!(Facet::MaxDuration.read(&q), "5m");
        assert_eq!(Facet::MinDuration.from_param("90000"), "90s");
        assert_eq!(write(Facet::MinDuration, "", "0"), "duration:>=0s");
        assert_eq!(Facet::CreatedFrom.from_param("-1h"), "-1h");
    }

    #[test]
    fn a_query_parsed_once_sets_facets_as_write_does() {
        let q = "stripe status:failed (agent:a OR agent:b)";
        let faceted = FacetedQuery::parse(q).unwrap_or_default();
        for (facet, value) in [
            (Facet::Status, "running"),
            (Facet::CreatedFrom, "-1h"),
            (Facet::Status, ""),
        ] {
            assert_eq!(
                faceted.with(&[(facet, value.to_string())]),
                write(facet, q, value),
                "{facet:?} {value}"
            );
        }
        assert_eq!(
            faceted.with(&[
                (Facet::Status, "completed".into()),
                (Facet::CreatedFrom, "2026-12-02".into()),
                (Facet::CreatedBefore, "2026-12-03".into()),
            ]),
            "stripe (agent:a OR agent:b) status:completed created:>=2026-12-02 created:<2026-12-03"
        );
    }

    #[test]
    fn a_value_that_is_not_one_term_is_refused_naming_the_filter() {
        let error = Facet::MinDuration.write("", "soon").err();
        assert!(error.is_some_and(|error| error.message.starts_with("min duration:")));
        assert!(Facet::Status.write("", "done").is_err());
        assert!(
            Facet::Agent.write("(", "a").is_err(),
            "a query that does not parse"
        );
        assert!(Facet::Status.write("", "failed OR x").is_err());
    }
}
