//! `GET /api/runs/export`: every run that matches the list's filter (not one
//! page), newest first, as CSV or NDJSON, streamed. Runs are read from the read
//! pool in keyset batches ([`store::db::runs::items_below`]) and each batch is
//! written out before the next is read, so memory stays bounded by one batch
//! however many runs match. Columns are the list's (`fields=`, [`model::Columns`]).

use super::auth::Caller;
use crate::http::{ApiResult, ErrorEnvelope};
use app::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use futures::StreamExt;
use model::{cell_text, AccountPk, AppError, Columns, ProjectedRow, RunFilter, RUN_ROW_FIELDS};
use store::db::runs::{self, Position};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Runs read (and written out) per batch.
pub const EXPORT_BATCH: i64 = 500;

/// What an export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// An export request: the format, the columns and the filter.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    pub format: Format,
    pub columns: Columns,
    pub filter: RunFilter,
}

/// Reads an export's query string: `format` (else `text/csv` in `Accept` chooses
/// CSV, anything else NDJSON), `fields`, and every filter of the runs list, read
/// by the list's own parser. Paging parameters are refused: an export has no pages.
pub fn export_request(query: &str, accept: Option<&str>) -> Result<ExportRequest, AppError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut format = None;
    let mut filters = Vec::with_capacity(pairs.len());
    for (key, value) in &pairs {
        match key.as_str() {
            // An empty value is no choice, as for every list parameter.
            "format" if value.trim().is_empty() => {}
            "format" => {
                format = Some(match value.trim() {
                    "csv" => Format::Csv,
                    "ndjson" => Format::Ndjson,
                    other => {
                        return Err(AppError::invalid(
                            "format",
                            format!("format must be csv or ndjson, not `{other}`"),
                        ))
                    }
                })
            }
            "limit" | "offset" | "cursor" | "sort" => {
                return Err(AppError::invalid(
                    key.as_str(),
                    format!(
                        "an export has every matching run, in one download: `{key}` does not apply"
                    ),
                ))
            }
            _ => filters.push((key.as_str(), value.as_str())),
        }
    }
    let mut filter = RunFilter::from_query(filters)?;
    let columns = Columns::parse("fields", filter.fields.take().as_deref().unwrap_or(""))?;
    let format = format.unwrap_or_else(|| {
        if accept.is_some_and(|accept| accept.contains("text/csv")) {
            Format::Csv
        } else {
            Format::Ndjson
        }
    });
    Ok(ExportRequest {
        format,
        columns,
        filter,
    })
}

/// Appends one CSV record (RFC 4180): a cell with a comma, a quote or a line
/// break is quoted, its quotes doubled; records end with CRLF.
pub fn push_csv_record<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) {
    for (index, cell) in cells.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The export's column names, in order: the chosen ones, or every field.
fn column_names(columns: &Columns) -> Vec<&str> {
    if columns.is_empty() {
        RUN_ROW_FIELDS.to_vec()
    } else {
        columns.names().iter().map(String::as_str).collect()
    }
}

fn push_row(out: &mut Vec<u8>, format: Format, row: &ProjectedRow) -> Result<(), AppError> {
    match format {
        Format::Csv => {
            let cells: Vec<String> = row.0.iter().map(|(_, value)| cell_text(value)).collect();
            push_csv_record(out, cells.iter().map(String::as_str));
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut *out, row).map_err(|_| AppError::Internal)?;
            out.push(b'\n');
        }
    }
    Ok(())
}

/// One batch of runs, written out.
fn encode(
    format: Format,
    columns: &Columns,
    runs: &[model::RunRow],
    out: &mut Vec<u8>,
) -> Result<(), AppError> {
    for run in runs {
        push_row(out, format, &columns.project(run))?;
    }
    Ok(())
}

/// The export's parameters, for the API document. [`export_request`] reads them
/// (with the list's filter parser).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct ExportParams {
    /// `csv` or `ndjson`. Without it, an `Accept` header naming `text/csv` chooses CSV,
    /// anything else NDJSON.
    #[param(pattern = r"^(csv|ndjson)?$")]
    format: Option<String>,
    /// One status or a comma list: requested, queued, running, completed, failed, cancelled.
    #[param(
        pattern = r"^((requested|queued|running|completed|failed|cancelled)(,(requested|queued|running|completed|failed|cancelled))*)?$"
    )]
    status: Option<String>,
    /// Agent slug.
    agent: Option<String>,
    /// Alias of `agent` (the legacy pipeline name).
    pipeline_id: Option<String>,
    /// Campaign id.
    #[param(schema_with = super::id_filter)]
    campaign: Option<uuid::Uuid>,
    initiator: Option<String>,
    /// Created at or after (RFC 3339 time or a date).
    #[param(rename = "createdAfter", schema_with = super::time_filter)]
    created_after: Option<String>,
    /// Created before (RFC 3339 time or a date).
    #[param(rename = "createdBefore", schema_with = super::time_filter)]
    created_before: Option<String>,
    #[param(rename = "minDurationMs", schema_with = super::number_filter)]
    min_duration_ms: Option<i64>,
    #[param(rename = "maxDurationMs", schema_with = super::number_filter)]
    max_duration_ms: Option<i64>,
    /// The runs list's query (`q`), as in `GET /api/runs`.
    q: Option<String>,
    /// Compare `input.<path>` values case-insensitively.
    #[param(schema_with = super::flag_filter)]
    ci: Option<bool>,
    /// The columns, comma-separated, as `fields` of `GET /api/runs`; every field when absent.
    #[param(schema_with = super::fields_filter)]
    fields: Option<String>,
}

#[utoipa::path(get, path = "/api/runs/export", tag = "runs", params(ExportParams),
    description = "Every run of the caller's account that matches the filter (the parameters of `GET /api/runs`, \
        `input.<path>=<value>` included; no paging), newest first, streamed as a download \
        (`Content-Disposition: attachment; filename=\"runs-<date>.<csv|ndjson>\"`). CSV has a header row of the \
        column names and one record per run (RFC 4180 quoting; strings bare, empty for null, other values as JSON); \
        NDJSON has one JSON object per line with the chosen columns. Runs created or changed while the export \
        streams may or may not be in it; none is written twice.",
    responses(
        (status = 200, description = "The runs, streamed", content(
            (String = "text/csv"),
            (String = "application/x-ndjson"))),
        (status = 400, description = "A filter, `fields` or `format` is invalid, or a paging parameter was given (the error names it)", body = ErrorEnvelope),
        (status = 401, description = "No or bad credentials", body = ErrorEnvelope)))]
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let request = export_request(query.as_deref().unwrap_or(""), accept)?;
    // The first batch is read before answering, so that a query the database
    // refuses is an error answer rather than a broken download.
    let first = runs::items_below(
        &state.db.read,
        caller.account_pk,
        &request.filter,
        Position::TOP,
        EXPORT_BATCH,
    )
    .await?;
    let mut head = Vec::new();
    if request.format == Format::Csv {
        push_csv_record(&mut head, column_names(&request.columns));
    }
    encode(request.format, &request.columns, &first.items, &mut head)?;
    let format = request.format;
    let filename = format!(
        "runs-{}.{}",
        chrono::Utc::now().format("%Y-%m-%d"),
        format.extension()
    );
    let rest = Batches {
        pool: state.db.read.clone(),
        account_pk: caller.account_pk,
        request,
    };
    let body = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(head)) })
        .chain(futures::stream::unfold(
            (rest, first.next),
            |(rest, below)| async move {
                let below = below?;
                match rest.read(below).await {
                    Ok((bytes, next)) => Some((Ok(bytes), (rest, next))),
                    Err(error) => {
                        tracing::warn!(%error, "export: reading a batch failed; the download is cut short");
                        Some((Err(std::io::Error::other("export failed")), (rest, None)))
                    }
                }
            },
        ))
        // Ended for good: the compression layer polls once more after the end,
        // and `unfold` panics when polled again.
        .fuse();
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        response_headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The batches after the first: each read and written out when the body asks.
struct Batches {
    pool: store::db::sql::Pool,
    account_pk: AccountPk,
    request: ExportRequest,
}

impl Batches {
    async fn read(&self, below: Position) -> Result<(Bytes, Option<Position>), AppError> {
        let batch = runs::items_below(
            &self.pool,
            self.account_pk,
            &self.request.filter,
            below,
            EXPORT_BATCH,
        )
        .await?;
        let mut out = Vec::new();
        encode(
            self.request.format,
            &self.request.columns,
            &batch.items,
            &mut out,
        )?;
        Ok((Bytes::from(out), batch.next))
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(cells: &[&str]) -> String {
        let mut out = Vec::new();
        push_csv_record(&mut out, cells.iter().copied());
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn csv_cells_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(csv(&["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(
            csv(&["x,y", "say \"hi\"", "two\nlines", "cr\r"]),
            "\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\r\n"
        );
    }

    #[test]
    fn the_format_comes_from_the_parameter_or_the_accept_header() {
        let format = |query: &str, accept: Option<&str>| {
            export_request(query, accept).map(|request| request.format)
        };
        assert_eq!(format("", None), Ok(Format::Ndjson));
        assert_eq!(format("", Some("text/csv")), Ok(Format::Csv));
        assert_eq!(
            format("format=ndjson", Some("text/csv")),
            Ok(Format::Ndjson)
        );
        assert_eq!(format("format=csv", None), Ok(Format::Csv));
        for (query, field) in [
            ("format=xml", "format"),
            ("limit=5", "limit"),
            ("cursor=1.1", "cursor"),
            ("fields=nope", "fields"),
            ("status=sleeping", "status"),
            ("colour=red", "colour"),
        ] {
            let error = export_request(query, None).map(|_| ()).unwrap_err();
            assert_eq!(error.field(), Some(field), "{query}");
        }
    }
}
