//! The runs query language: one grammar, parsed here only, for the search box of
//! every runs list, the `q` parameter of `GET /api/runs` and `GET /runs`, bulk
//! actions and export (docs/query.md).
//!
//! It lives in `model` so that the browser runs the very parser the server runs:
//! the search box shows the server's error (with its position) as the user types,
//! and [`completions`] suggests from the same list of qualifiers. So it is pure —
//! no clock and no I/O: a relative time (`created:>-7d`) stays relative in the
//! tree and is resolved by [`When::bounds_ms`] with the caller's `now`.
//!
//! Grammar (precedence NOT > AND > OR; juxtaposition is AND):
//!
//! ```text
//! query   = or
//! or      = and { "OR" and }
//! and     = unary { ["AND"] unary }
//! unary   = ("NOT" | "-") unary | primary
//! primary = "(" or ")" | term
//! term    = word | "quoted phrase" | qualifier ":" [op] value | "input." path "=" value
//! op      = ">" | ">=" | "<" | "<="
//! ```
//!
//! Every position is a 0-based character (not byte) offset into the text.

use crate::RunStatus;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use std::fmt;
use uuid::Uuid;

/// The longest query text accepted, in characters: room for a selection of a
/// whole page of runs (`id:` with 100 ids is 3,703 characters).
pub const MAX_QUERY_CHARS: usize = 4_000;
/// How deep parentheses and negations may nest.
pub const MAX_DEPTH: usize = 12;
/// How many terms (words, phrases, qualifiers) one query may have: each becomes
/// a condition of the SQL, and some a subquery.
pub const MAX_TERMS: usize = 50;

/// A query that does not parse: where (0-based character offset) and what was
/// expected there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub position: usize,
    /// For people; says what was expected. [`fmt::Display`] adds the position.
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.position)
    }
}

impl std::error::Error for QueryError {}

fn error<T>(position: usize, message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError {
        position,
        message: message.into(),
    })
}

/// A parsed query. Blank text parses to no query at all ([`Query::parse`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub expr: Expr,
}

/// A query's expression. `And` and `Or` hold two or more items and never an item
/// of their own kind (the parser flattens `a (b c)` to one `And`).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

/// One term and where it starts. Two terms are equal when they mean the same,
/// wherever they were written (so a query equals the parse of its display).
#[derive(Clone, Debug)]
pub struct Term {
    pub position: usize,
    pub kind: TermKind,
}

impl PartialEq for Term {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// What a term asks of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum TermKind {
    /// A bare word: full text over summary, input, error message and log messages.
    Word(String),
    /// `"quoted words"`: the words adjacent and in order.
    Phrase(String),
    /// `status:failed,cancelled`: any of these.
    Status(Vec<RunStatus>),
    /// `agent:<slug>`.
    Agent(String),
    /// `campaign:<id or name>`: a UUID is an id, anything else a name.
    Campaign(String),
    Initiator(String),
    Tag(String),
    /// `input.company.name:Stripe` (or the older `input.company.name=Stripe`).
    Input {
        path: String,
        value: String,
    },
    Created(Cmp, When),
    /// Duration in milliseconds, kept with the unit it was written in.
    Duration(Cmp, Amount),
    /// Progress from 0 to 1.
    Progress(Cmp, f64),
    /// `error:<code>`: the run's error code.
    Error(String),
    /// `retryOf:*` (any retry, `None`) or `retryOf:<run id>`.
    RetryOf(Option<Uuid>),
    /// `id:<run id>,<run id>`: these runs (the dashboard's selected rows).
    Id(Vec<Uuid>),
    Has(Has),
}

/// A comparison; `Eq` is a qualifier's plain form (`created:2026-11-01`: that day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }

    /// The SQL operator (`=` for `Eq`).
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            other => other.as_str(),
        }
    }
}

/// A number with its unit: a duration (`60s`) or a time ago (`-7d`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount {
    pub value: i64,
    pub unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Minutes => "m",
            Unit::Hours => "h",
            Unit::Days => "d",
            Unit::Weeks => "w",
        }
    }

    fn millis(self) -> i64 {
        match self {
            Unit::Millis => 1,
            Unit::Seconds => 1_000,
            Unit::Minutes => 60_000,
            Unit::Hours => 3_600_000,
            Unit::Days => 86_400_000,
            Unit::Weeks => 604_800_000,
        }
    }
}

impl Amount {
    /// In milliseconds (the parser refuses amounts that overflow).
    pub fn millis(self) -> i64 {
        self.value.saturating_mul(self.unit.millis())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

/// The value of `created:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// A UTC day: the plain form means "on that day".
    Date(NaiveDate),
    /// An instant (RFC 3339).
    Time(DateTime<Utc>),
    /// This long before the query runs (`-7d`).
    Ago(Amount),
}

impl When {
    /// The half-open range `[start, end)` of epoch milliseconds this names at `now`:
    /// a day is its 24 hours, an instant (or a time ago) its millisecond.
    fn range_ms(self, now_ms: i64) -> (i64, i64) {
        match self {
            When::Date(day) => {
                let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
                let start = start.timestamp_millis();
                (start, start + 86_400_000)
            }
            When::Time(time) => {
                let at = time.timestamp_millis();
                (at, at + 1)
            }
            When::Ago(amount) => {
                let at = now_ms.saturating_sub(amount.millis());
                (at, at + 1)
            }
        }
    }

    /// The creation times that satisfy `created:<cmp><self>` at `now`: an inclusive
    /// lower and an exclusive upper bound, in epoch milliseconds. `>2026-11-01` is
    /// after that day, `>=2026-11-01` from its start, `<` before its start, `<=`
    /// to its end; a time ago is an instant.
    pub fn bounds_ms(self, cmp: Cmp, now_ms: i64) -> (Option<i64>, Option<i64>) {
        let (start, end) = self.range_ms(now_ms);
        match cmp {
            Cmp::Eq => (Some(start), Some(end)),
            Cmp::Gt => (Some(end), None),
            Cmp::Ge => (Some(start), None),
            Cmp::Lt => (None, Some(start)),
            Cmp::Le => (None, Some(end)),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Date(day) => write!(f, "{}", day.format("%Y-%m-%d")),
            When::Time(time) => f.write_str(&time.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            When::Ago(amount) => write!(f, "-{amount}"),
        }
    }
}

/// `has:` — whether a run has something at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Has {
    /// An error code.
    Error,
    /// A campaign.
    Campaign,
}

/// The qualifiers, as written (the first match is the canonical spelling), with
/// what each takes: the autocomplete's list and the unknown-qualifier message.
pub const QUALIFIERS: &[(&str, &str)] = &[
    (
        "status",
        "requested, queued, running, completed, failed, cancelled (a comma list: any)",
    ),
    ("agent", "an agent's slug"),
    ("campaign", "a campaign's id or name"),
    ("initiator", "who started the run: schedule, api, …"),
    ("tag", "a tag of the run"),
    (
        "input.",
        "a field of the run's input: input.company.name:Stripe",
    ),
    (
        "created",
        "2026-11-01 (that day), >2026-11-01, <-7d (m, h, d, w ago)",
    ),
    ("duration", ">60s, <=5m (ms, s, m, h)"),
    ("progress", "<0.5 (from 0 to 1)"),
    ("error", "the run's error code"),
    ("retryOf", "* for any retry, or the id of the run retried"),
    ("id", "a run's id (a comma list: any of them)"),
    ("has", "error or campaign"),
];

const STATUS_EXPECTED: &str = "a status (requested, queued, running, completed, failed, cancelled)";

impl Query {
    /// Parses query text; blank text is no query (`Ok(None)`).
    pub fn parse(text: &str) -> Result<Option<Query>, QueryError> {
        let length = text.chars().count();
        if length > MAX_QUERY_CHARS {
            return error(
                MAX_QUERY_CHARS,
                format!(
                    "the query is {length} characters long; at most {MAX_QUERY_CHARS} are allowed"
                ),
            );
        }
        let mut parser = Parser {
            lexer: Lexer::new(text),
            terms: 0,
        };
        if parser.lexer.peek()?.is_none() {
            return Ok(None);
        }
        let expr = parser.or(0)?;
        match parser.lexer.next()? {
            None => Ok(Some(Query { expr })),
            Some(token) => match token.kind {
                Token::RParen => error(
                    token.position,
                    "unexpected \")\": there is no \"(\" to close",
                ),
                // `or` stops only at the end or at a ")".
                _ => error(token.position, "unexpected text"),
            },
        }
    }

    /// The words and phrases every match must contain (the text terms ANDed at the
    /// top level, not negated) and the rest of the query, if any: the runs list
    /// walks the text indexes newest first for the first and checks the rest.
    pub fn split_text(&self) -> (Vec<Term>, Option<Expr>) {
        let items: Vec<&Expr> = match &self.expr {
            Expr::And(items) => items.iter().collect(),
            other => vec![other],
        };
        let mut text = Vec::new();
        let mut rest = Vec::new();
        for item in items {
            match item {
                Expr::Term(term) if term.is_text() => text.push(term.clone()),
                other => rest.push(other.clone()),
            }
        }
        let rest = match rest.len() {
            0 => None,
            1 => rest.pop(),
            _ => Some(Expr::And(rest)),
        };
        (text, rest)
    }
}

impl Term {
    /// A word or a phrase (full text).
    pub fn is_text(&self) -> bool {
        matches!(self.kind, TermKind::Word(_) | TermKind::Phrase(_))
    }
}

impl Expr {
    /// Every term of the expression, in order.
    pub fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        fn walk<'a>(expr: &'a Expr, out: &mut Vec<&'a Term>) {
            match expr {
                Expr::And(items) | Expr::Or(items) => items.iter().for_each(|item| walk(item, out)),
                Expr::Not(inner) => walk(inner, out),
                Expr::Term(term) => out.push(term),
            }
        }
        walk(self, &mut out);
        out
    }
}

// ---------------------------------------------------------------------------
// Display: the canonical text, which parses back to an equal query.

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.expr)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(items) => {
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" ")?;
                    }
                    match item {
                        Expr::Or(_) | Expr::And(_) => write!(f, "({item})")?,
                        _ => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
            Expr::Or(items) => {
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(" OR ")?;
                    }
                    match item {
                        Expr::Or(_) => write!(f, "({item})")?,
                        _ => write!(f, "{item}")?,
                    }
                }
                Ok(())
            }
            Expr::Not(inner) => match inner.as_ref() {
                Expr::Term(term) => write!(f, "-{term}"),
                other => write!(f, "-({other})"),
            },
            Expr::Term(term) => write!(f, "{term}"),
        }
    }
}

/// A value as the lexer reads it back: bare when it can be, else quoted.
pub(crate) fn value_text(value: &str) -> String {
    let bare = !value.is_empty()
        && !value.starts_with(['<', '>'])
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"'));
    if bare {
        value.to_string()
    } else {
        quoted(value)
    }
}

fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TermKind::Word(word) => f.write_str(word),
            TermKind::Phrase(phrase) => f.write_str(&quoted(phrase)),
            TermKind::Status(statuses) => {
                let names: Vec<&str> = statuses.iter().map(|status| status.as_str()).collect();
                write!(f, "status:{}", names.join(","))
            }
            TermKind::Agent(value) => write!(f, "agent:{}", value_text(value)),
            TermKind::Campaign(value) => write!(f, "campaign:{}", value_text(value)),
            TermKind::Initiator(value) => write!(f, "initiator:{}", value_text(value)),
            TermKind::Tag(value) => write!(f, "tag:{}", value_text(value)),
            TermKind::Input { path, value } => write!(f, "input.{path}:{}", value_text(value)),
            TermKind::Created(cmp, when) => write!(f, "created:{}{when}", cmp.as_str()),
            TermKind::Duration(cmp, amount) => write!(f, "duration:{}{amount}", cmp.as_str()),
            TermKind::Progress(cmp, value) => write!(f, "progress:{}{value}", cmp.as_str()),
            TermKind::Error(code) => write!(f, "error:{}", value_text(code)),
            TermKind::RetryOf(None) => f.write_str("retryOf:*"),
            TermKind::RetryOf(Some(id)) => write!(f, "retryOf:{id}"),
            TermKind::Id(ids) => {
                let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
                write!(f, "id:{}", ids.join(","))
            }
            TermKind::Has(Has::Error) => f.write_str("has:error"),
            TermKind::Has(Has::Campaign) => f.write_str("has:campaign"),
        }
    }
}

// ---------------------------------------------------------------------------
// Lexer: tokens on demand, so that the first error in the text is the one reported.

#[derive(Clone, Debug)]
enum Token {
    LParen,
    RParen,
    /// `NOT` or a `-` right before a term.
    Not(&'static str),
    And,
    Or,
    Term(TermKind),
}

#[derive(Clone, Debug)]
struct Lexed {
    position: usize,
    kind: Token,
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    peeked: Option<Option<Lexed>>,
}

/// Ends a bare word or value.
fn ends_bare(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

impl Lexer {
    fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            at: 0,
            peeked: None,
        }
    }

    fn peek(&mut self) -> Result<Option<&Lexed>, QueryError> {
        if self.peeked.is_none() {
            let token = self.lex()?;
            self.peeked = Some(token);
        }
        Ok(self.peeked.as_ref().and_then(Option::as_ref))
    }

    fn next(&mut self) -> Result<Option<Lexed>, QueryError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    /// Where the next token starts (the end, if none does).
    fn position(&mut self) -> usize {
        if let Some(Some(token)) = &self.peeked {
            return token.position;
        }
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
        self.at
    }

    fn text(&self, from: usize, to: usize) -> String {
        self.chars[from..to].iter().collect()
    }

    /// Reads on while `keep` holds; the text read.
    fn read_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let start = self.at;
        while self.chars.get(self.at).is_some_and(|&c| keep(c)) {
            self.at += 1;
        }
        self.text(start, self.at)
    }

    /// A `"…"` string starting at the quote under the cursor; `\"` and `\\` escape.
    fn quoted(&mut self) -> Result<String, QueryError> {
        let open = self.at;
        self.at += 1;
        let mut value = String::new();
        loop {
            match self.chars.get(self.at) {
                None => {
                    return error(
                        self.chars.len(),
                        format!("expected a closing quote (\") for the one opened at {open}"),
                    )
                }
                Some('"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some('\\') if matches!(self.chars.get(self.at + 1), Some('"' | '\\')) => {
                    value.push(self.chars[self.at + 1]);
                    self.at += 2;
                }
                Some(&c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
    }

    fn lex(&mut self) -> Result<Option<Lexed>, QueryError> {
        let position = self.position();
        let Some(&c) = self.chars.get(position) else {
            return Ok(None);
        };
        let kind = match c {
            '(' => {
                self.at += 1;
                Token::LParen
            }
            ')' => {
                self.at += 1;
                Token::RParen
            }
            '"' => {
                let phrase = self.quoted()?;
                if phrase.trim().is_empty() {
                    return error(position, "expected words between the quotes");
                }
                Token::Term(TermKind::Phrase(phrase))
            }
            '-' if self
                .chars
                .get(position + 1)
                .is_some_and(|&next| !next.is_whitespace() && next != ')') =>
            {
                self.at += 1;
                Token::Not("-")
            }
            _ => self.word_or_qualifier(position)?,
        };
        Ok(Some(Lexed { position, kind }))
    }

    fn word_or_qualifier(&mut self, start: usize) -> Result<Token, QueryError> {
        let head = self.read_while(|c| !ends_bare(c) && c != ':' && c != '=');
        let next = self.chars.get(self.at).copied();
        let input_path = head
            .strip_prefix("input.")
            .or_else(|| head.strip_prefix("initial_input."));
        match next {
            Some(':') if input_path.is_some() || is_name(&head) => {
                self.at += 1;
                self.qualifier(start, &head, input_path).map(Token::Term)
            }
            Some('=') if input_path.is_some() => {
                self.at += 1;
                self.qualifier(start, &head, input_path).map(Token::Term)
            }
            _ => {
                let rest = self.read_while(|c| !ends_bare(c));
                let word = format!("{head}{rest}");
                Ok(match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not("NOT"),
                    _ => Token::Term(TermKind::Word(word)),
                })
            }
        }
    }

    /// The value after `name:` (the cursor is past the colon): an optional
    /// comparison, then a quoted or bare value.
    fn qualifier(
        &mut self,
        start: usize,
        name: &str,
        input_path: Option<&str>,
    ) -> Result<TermKind, QueryError> {
        let op_at = self.at;
        let cmp = if self.chars[self.at..].starts_with(&['>', '=']) {
            self.at += 2;
            Cmp::Ge
        } else if self.chars[self.at..].starts_with(&['<', '=']) {
            self.at += 2;
            Cmp::Le
        } else if self.chars.get(self.at) == Some(&'>') {
            self.at += 1;
            Cmp::Gt
        } else if self.chars.get(self.at) == Some(&'<') {
            self.at += 1;
            Cmp::Lt
        } else {
            Cmp::Eq
        };
        let value_at = self.at;
        let quoted = self.chars.get(self.at) == Some(&'"');
        let value = if quoted {
            self.quoted()?
        } else {
            self.read_while(|c| !ends_bare(c))
        };
        let written = self.text(start, value_at);
        let value = Value {
            text: value,
            at: value_at,
            quoted,
            after: if cmp == Cmp::Eq {
                written
            } else {
                self.text(start, op_at)
            },
        };
        if let Some(path) = input_path {
            if path.is_empty() || path.chars().count() > 200 || path.split('.').any(str::is_empty) {
                return error(
                    start,
                    "expected a field path such as input.company.name after \"input.\"",
                );
            }
            no_comparison(cmp, op_at, &value.after)?;
            let text = value.required("a value (quote values with spaces)")?;
            return Ok(TermKind::Input {
                path: path.to_string(),
                value: text,
            });
        }
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "created" => {
                let text = value.required(
                    "a date (2026-11-01), a time (2026-11-01T08:00:00Z) or a time ago (-7d; m, h, d, w)",
                )?;
                let when = parse_when(&text).ok_or_else(|| {
                    value.invalid(
                        "a date (2026-11-01), a time (2026-11-01T08:00:00Z) or a time ago (-7d; m, h, d, w)",
                    )
                })?;
                // A time ago is an instant: its plain form means "since then".
                let cmp = match (cmp, when) {
                    (Cmp::Eq, When::Ago(_)) => Cmp::Ge,
                    _ => cmp,
                };
                Ok(TermKind::Created(cmp, when))
            }
            "duration" => {
                let expected = "a duration with its unit (500ms, 60s, 5m, 2h)";
                let text = value.required(expected)?;
                let amount =
                    parse_amount(&text, &DURATION_UNITS).ok_or_else(|| value.invalid(expected))?;
                Ok(TermKind::Duration(cmp, amount))
            }
            "progress" => {
                let expected = "a progress from 0 to 1 (0.5)";
                let text = value.required(expected)?;
                let progress = text
                    .parse::<f64>()
                    .ok()
                    .filter(|number| (0.0..=1.0).contains(number))
                    .ok_or_else(|| value.invalid(expected))?;
                Ok(TermKind::Progress(cmp, progress))
            }
            _ => {
                let kind = self.plain_qualifier(start, name, &lower, &value)?;
                no_comparison(cmp, op_at, &value.after)?;
                Ok(kind)
            }
        }
    }

    /// The qualifiers without comparisons.
    fn plain_qualifier(
        &self,
        start: usize,
        name: &str,
        lower: &str,
        value: &Value,
    ) -> Result<TermKind, QueryError> {
        Ok(match lower {
            "status" => {
                let text = value.required(STATUS_EXPECTED)?;
                let mut statuses = Vec::new();
                let mut at = value.at + usize::from(value.quoted);
                for part in text.split(',') {
                    let name = part.trim().to_ascii_lowercase();
                    match name.parse::<RunStatus>() {
                        Ok(status) => statuses.push(status),
                        Err(_) => {
                            return error(
                                at,
                                format!(
                                    "expected {STATUS_EXPECTED} after {}, got \"{part}\"",
                                    quoted(&value.after)
                                ),
                            )
                        }
                    }
                    at += part.chars().count() + 1;
                }
                TermKind::Status(statuses)
            }
            "agent" => TermKind::Agent(value.required("an agent's slug")?),
            "campaign" => TermKind::Campaign(
                value.required("a campaign's id or name (quote names with spaces)")?,
            ),
            "initiator" => TermKind::Initiator(value.required("an initiator (schedule, api, …)")?),
            "tag" => TermKind::Tag(value.required("a tag")?),
            "error" => TermKind::Error(value.required("an error code")?),
            "retryof" => {
                let expected = "* (any retry) or the id of the run retried";
                let text = value.required(expected)?;
                if text == "*" {
                    TermKind::RetryOf(None)
                } else {
                    TermKind::RetryOf(Some(text.parse().map_err(|_| value.invalid(expected))?))
                }
            }
            "id" => {
                let expected = "a run's id (a comma list: any of them)";
                let text = value.required(expected)?;
                let mut ids = Vec::new();
                let mut at = value.at + usize::from(value.quoted);
                for part in text.split(',') {
                    match part.trim().parse::<Uuid>() {
                        Ok(id) => ids.push(id),
                        Err(_) => {
                            return error(
                                at,
                                format!(
                                    "expected {expected} after {}, got \"{part}\"",
                                    quoted(&value.after)
                                ),
                            )
                        }
                    }
                    at += part.chars().count() + 1;
                }
                TermKind::Id(ids)
            }
            "has" => {
                let expected = "error or campaign";
                match value.required(expected)?.to_ascii_lowercase().as_str() {
                    "error" => TermKind::Has(Has::Error),
                    "campaign" => TermKind::Has(Has::Campaign),
                    _ => return Err(value.invalid(expected)),
                }
            }
            _ => return Err(unknown_qualifier(start, name)),
        })
    }
}

/// A qualifier's value as written, for its checks and messages.
struct Value {
    text: String,
    at: usize,
    /// Written in quotes (its text starts one character after `at`).
    quoted: bool,
    /// What came before it (`status:`, `created:>`), for messages.
    after: String,
}

impl Value {
    fn required(&self, expected: &str) -> Result<String, QueryError> {
        if self.text.trim().is_empty() {
            return error(
                self.at,
                format!("expected {expected} after {}", quoted(&self.after)),
            );
        }
        Ok(self.text.clone())
    }

    fn invalid(&self, expected: &str) -> QueryError {
        QueryError {
            position: self.at,
            message: format!(
                "expected {expected} after {}, got {}",
                quoted(&self.after),
                quoted(&self.text)
            ),
        }
    }
}

fn no_comparison(cmp: Cmp, at: usize, after: &str) -> Result<(), QueryError> {
    if cmp == Cmp::Eq {
        return Ok(());
    }
    error(
        at,
        format!(
            "{} takes no comparison; > >= < <= are for created:, duration: and progress: (quote a value that starts with < or >)",
            quoted(after)
        ),
    )
}

/// A qualifier-shaped name: a letter, then letters, digits or `_`.
fn is_name(head: &str) -> bool {
    let mut chars = head.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn unknown_qualifier(start: usize, name: &str) -> QueryError {
    let names: Vec<&str> = QUALIFIERS.iter().map(|(name, _)| *name).collect();
    let lower = name.to_ascii_lowercase();
    let closest = names
        .iter()
        .map(|candidate| {
            let candidate_lower = candidate.trim_end_matches('.').to_ascii_lowercase();
            (edit_distance(&lower, &candidate_lower), *candidate)
        })
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .map(|(_, candidate)| candidate);
    let suggestion = match closest {
        Some("input.") => " (did you mean \"input.<path>:\"?)".to_string(),
        Some(candidate) => format!(" (did you mean \"{candidate}:\"?)"),
        None => String::new(),
    };
    QueryError {
        position: start,
        message: format!(
            "unknown qualifier \"{name}:\"{suggestion}; expected one of {}; to search for the text, put it in quotes",
            names
                .iter()
                .map(|name| if name.ends_with('.') {
                    format!("{name}<path>:")
                } else {
                    format!("{name}:")
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `60s`, `500ms`: a whole number and one of `units`; `None` if not, or if it
/// overflows in milliseconds.
/// The units a duration is written in, here and in `duration:`.
const DURATION_UNITS: [Unit; 4] = [Unit::Millis, Unit::Seconds, Unit::Minutes, Unit::Hours];

/// A duration written as people write it, in milliseconds: `500ms`, `90s`,
/// `5m`, `2h` (the same units as `duration:`).
pub fn parse_duration(text: &str) -> Option<i64> {
    parse_amount(text.trim(), &DURATION_UNITS).map(Amount::millis)
}

/// Milliseconds in the largest unit that holds them exactly: `90s`, `5m`,
/// `1500ms` ([`parse_duration`] reads it back).
pub fn format_duration_amount(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let unit = DURATION_UNITS
        .iter()
        .rev()
        .find(|unit| ms % unit.millis() == 0)
        .copied()
        .unwrap_or(Unit::Millis);
    Amount {
        value: ms / unit.millis(),
        unit,
    }
    .to_string()
}

fn parse_amount(text: &str, units: &[Unit]) -> Option<Amount> {
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    let (number, suffix) = text.split_at(digits);
    let value: i64 = number.parse().ok()?;
    let unit = *units.iter().find(|unit| unit.suffix() == suffix)?;
    value.checked_mul(unit.millis())?;
    Some(Amount { value, unit })
}

/// A time ago as `created:` writes it (`-90m`, `-24h`, `-7d`, `-2w`), in
/// milliseconds.
pub fn parse_ago(text: &str) -> Option<i64> {
    match parse_when(text.trim())? {
        When::Ago(amount) => Some(amount.millis()),
        When::Date(_) | When::Time(_) => None,
    }
}

fn parse_when(text: &str) -> Option<When> {
    if let Some(ago) = text.strip_prefix('-') {
        let amount = parse_amount(ago, &[Unit::Minutes, Unit::Hours, Unit::Days, Unit::Weeks])?;
        return Some(When::Ago(amount));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(When::Date(day));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| When::Time(time.with_timezone(&Utc)))
}

// ---------------------------------------------------------------------------
// Parser: recursive descent, depth and size bounded.

struct Parser {
    lexer: Lexer,
    terms: usize,
}

const A_TERM: &str = "a term (a word, a \"quoted phrase\" or a qualifier such as status:failed)";

impl Parser {
    fn or(&mut self, depth: usize) -> Result<Expr, QueryError> {
        let mut items = Vec::new();
        push_flat(&mut items, self.and(depth, None)?, true);
        while let Some(Token::Or) = self.lexer.peek()?.map(|token| &token.kind) {
            self.lexer.next()?;
            push_flat(&mut items, self.and(depth, Some("OR"))?, true);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    /// Unary terms up to an `OR`, a `)` or the end; `after` is what came before
    /// (for the message when no term follows it).
    fn and(&mut self, depth: usize, after: Option<&str>) -> Result<Expr, QueryError> {
        let mut items = Vec::new();
        push_flat(&mut items, self.unary(depth, after)?, false);
        loop {
            match self.lexer.peek()?.map(|token| &token.kind) {
                None | Some(Token::Or | Token::RParen) => break,
                Some(Token::And) => {
                    self.lexer.next()?;
                    push_flat(&mut items, self.unary(depth, Some("AND"))?, false);
                }
                Some(_) => push_flat(&mut items, self.unary(depth, None)?, false),
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self, depth: usize, after: Option<&str>) -> Result<Expr, QueryError> {
        let position = self.lexer.position();
        let expected = |what: &str| match after {
            Some(after) => format!("expected {what} after \"{after}\""),
            None => format!("expected {what}"),
        };
        let Some(token) = self.lexer.next()? else {
            return error(position, expected(A_TERM));
        };
        match token.kind {
            Token::Not(written) => {
                self.deeper(depth, token.position)?;
                let inner = self.unary(depth + 1, Some(written))?;
                Ok(Expr::Not(Box::new(inner)))
            }
            Token::LParen => {
                self.deeper(depth, token.position)?;
                if let Some(Token::RParen) = self.lexer.peek()?.map(|next| &next.kind) {
                    return error(
                        self.lexer.position(),
                        format!("expected {A_TERM} after \"(\""),
                    );
                }
                let inner = self.or(depth + 1)?;
                let close = self.lexer.position();
                match self.lexer.next()? {
                    Some(Lexed {
                        kind: Token::RParen,
                        ..
                    }) => Ok(inner),
                    _ => error(
                        close,
                        format!("expected \")\" to close the \"(\" at {}", token.position),
                    ),
                }
            }
            Token::RParen => error(token.position, expected(A_TERM) + ", got \")\""),
            Token::And | Token::Or => {
                let word = if matches!(token.kind, Token::And) {
                    "AND"
                } else {
                    "OR"
                };
                error(
                    token.position,
                    format!(
                        "{}, got \"{word}\" (to search for the word, put it in quotes)",
                        expected(A_TERM)
                    ),
                )
            }
            Token::Term(kind) => {
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return error(
                        token.position,
                        format!("the query has more than {MAX_TERMS} terms; at most {MAX_TERMS} are allowed"),
                    );
                }
                Ok(Expr::Term(Term {
                    position: token.position,
                    kind,
                }))
            }
        }
    }

    fn deeper(&self, depth: usize, position: usize) -> Result<(), QueryError> {
        if depth >= MAX_DEPTH {
            return error(
                position,
                format!("the query nests parentheses and negations more than {MAX_DEPTH} deep"),
            );
        }
        Ok(())
    }
}

/// Adds `item` to an `And` (`or` false) or `Or` (`or` true) list, merging in the
/// items of a parenthesised group of the same kind.
fn push_flat(items: &mut Vec<Expr>, item: Expr, or: bool) {
    match item {
        Expr::Or(inner) if or => items.extend(inner),
        Expr::And(inner) if !or => items.extend(inner),
        other => items.push(other),
    }
}

// ---------------------------------------------------------------------------
// Completions for the search box.

/// A suggestion of the search box: show `label` (and `detail`), and on choice
/// replace the characters `replace` (a 0-based character range of the text)
/// with `insert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub detail: String,
    pub insert: String,
    pub replace: std::ops::Range<usize>,
}

/// How many suggestions [`completions`] gives at most.
pub const MAX_COMPLETIONS: usize = 20;

/// Suggestions for the word at `cursor` (a character offset) of `text`: the
/// qualifiers starting with what is typed, and after `status:`, `agent:`,
/// `has:`, `retryOf:` and `created:` their values (`agents`: the account's slugs).
/// Nothing inside quotes.
pub fn completions(text: &str, cursor: usize, agents: &[String]) -> Vec<Completion> {
    let chars: Vec<char> = text.chars().collect();
    let cursor = cursor.min(chars.len());
    if chars[..cursor].iter().filter(|&&c| c == '"').count() % 2 == 1 {
        return Vec::new();
    }
    let mut start = cursor;
    while start > 0 && !chars[start - 1].is_whitespace() && chars[start - 1] != '(' {
        start -= 1;
    }
    while start < cursor && chars[start] == '-' {
        start += 1;
    }
    let word: String = chars[start..cursor].iter().collect();
    let mut out = Vec::new();
    let Some((name, value)) = word.split_once(':') else {
        let typed = word.to_ascii_lowercase();
        for (name, detail) in QUALIFIERS {
            if name.to_ascii_lowercase().starts_with(&typed) {
                let insert = if name.ends_with('.') {
                    name.to_string()
                } else {
                    format!("{name}:")
                };
                out.push(Completion {
                    label: insert.clone(),
                    detail: detail.to_string(),
                    insert,
                    replace: start..cursor,
                });
            }
        }
        return out;
    };
    let op_len = value
        .chars()
        .take_while(|c| matches!(c, '<' | '>' | '='))
        .count();
    let value_start = start + name.chars().count() + 1 + op_len;
    let value: String = value.chars().skip(op_len).collect();
    let mut offer =
        |candidates: &mut dyn Iterator<Item = (String, String)>, typed: &str, from: usize| {
            let typed = typed.to_lowercase();
            for (candidate, detail) in candidates {
                if out.len() < MAX_COMPLETIONS && candidate.to_lowercase().starts_with(&typed) {
                    out.push(Completion {
                        label: candidate.clone(),
                        detail,
                        insert: value_text(&candidate),
                        replace: from..cursor,
                    });
                }
            }
        };
    match name.to_ascii_lowercase().as_str() {
        "status" => {
            let last = value.rsplit(',').next().unwrap_or_default();
            let from = cursor - last.chars().count();
            offer(
                &mut RunStatus::ALL
                    .iter()
                    .map(|status| (status.as_str().to_string(), "status".to_string())),
                last,
                from,
            );
        }
        "agent" => offer(
            &mut agents
                .iter()
                .map(|agent| (agent.clone(), "agent".to_string())),
            &value,
            value_start,
        ),
        "has" => offer(
            &mut [
                ("error", "has an error code"),
                ("campaign", "is in a campaign"),
            ]
            .iter()
            .map(|(value, detail)| (value.to_string(), detail.to_string())),
            &value,
            value_start,
        ),
        "retryof" => offer(
            &mut std::iter::once(("*".to_string(), "any retry".to_string())),
            &value,
            value_start,
        ),
        "created" => offer(
            &mut [
                ("-1h", "an hour ago"),
                ("-24h", "a day ago"),
                ("-7d", "a week ago"),
                ("-30d", "30 days ago"),
            ]
            .iter()
            .map(|(value, detail)| (value.to_string(), detail.to_string())),
            &value,
            value_start,
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expr {
        Query::parse(text)
            .unwrap_or_else(|error| panic!("{text}: {error}"))
            .unwrap_or_else(|| panic!("{text}: no query"))
            .expr
    }

    fn term(kind: TermKind) -> Expr {
        Expr::Term(Term { position: 0, kind })
    }

    fn word(text: &str) -> Expr {
        term(TermKind::Word(text.to_string()))
    }

    fn fails(text: &str) -> QueryError {
        match Query::parse(text) {
            Err(error) => error,
            Ok(query) => panic!("{text} parsed: {query:?}"),
        }
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn blank_text_is_no_query() {
        assert_eq!(Query::parse(""), Ok(None));
        assert_eq!(Query::parse("  \t "), Ok(None));
    }

    #[test]
    fn every_qualifier_parses() {
        let id: Uuid = "0193a5f0-0000-7000-8000-000000000001".parse().unwrap();
        let cases: Vec<(&str, TermKind)> = vec![
            ("status:failed", TermKind::Status(vec![RunStatus::Failed])),
            (
                "status:failed,cancelled",
                TermKind::Status(vec![RunStatus::Failed, RunStatus::Cancelled]),
            ),
            ("STATUS:Running", TermKind::Status(vec![RunStatus::Running])),
            ("agent:crawler", TermKind::Agent("crawler".into())),
            (
                "campaign:\"Spring launch\"",
                TermKind::Campaign("Spring launch".into()),
            ),
            (
                "campaign:0193a5f0-0000-7000-8000-000000000001",
                TermKind::Campaign("0193a5f0-0000-7000-8000-000000000001".into()),
            ),
            ("initiator:schedule", TermKind::Initiator("schedule".into())),
            ("tag:nightly", TermKind::Tag("nightly".into())),
            (
                "input.company.name:Stripe",
                TermKind::Input {
                    path: "company.name".into(),
                    value: "Stripe".into(),
                },
            ),
            (
                "input.company.name:\"Acme Corp\"",
                TermKind::Input {
                    path: "company.name".into(),
                    value: "Acme Corp".into(),
                },
            ),
            (
                "input.company_name=Stripe",
                TermKind::Input {
                    path: "company_name".into(),
                    value: "Stripe".into(),
                },
            ),
            (
                "initial_input.a.b=1",
                TermKind::Input {
                    path: "a.b".into(),
                    value: "1".into(),
                },
            ),
            (
                "input.url:https://x.com/a?b=c",
                TermKind::Input {
                    path: "url".into(),
                    value: "https://x.com/a?b=c".into(),
                },
            ),
            (
                "created:>2026-11-01",
                TermKind::Created(Cmp::Gt, When::Date(day("2026-11-01"))),
            ),
            (
                "created:2026-11-01",
                TermKind::Created(Cmp::Eq, When::Date(day("2026-11-01"))),
            ),
            (
                "created:<=2026-11-01T08:30:00Z",
                TermKind::Created(Cmp::Le, When::Time("2026-11-01T08:30:00Z".parse().unwrap())),
            ),
            (
                "created:<-7d",
                TermKind::Created(
                    Cmp::Lt,
                    When::Ago(Amount {
                        value: 7,
                        unit: Unit::Days,
                    }),
                ),
            ),
            (
                "created:-2w",
                TermKind::Created(
                    Cmp::Ge,
                    When::Ago(Amount {
                        value: 2,
                        unit: Unit::Weeks,
                    }),
                ),
            ),
            (
                "created:>=-90m",
                TermKind::Created(
                    Cmp::Ge,
                    When::Ago(Amount {
                        value: 90,
                        unit: Unit::Minutes,
                    }),
                ),
            ),
            (
                "duration:>60s",
                TermKind::Duration(
                    Cmp::Gt,
                    Amount {
                        value: 60,
                        unit: Unit::Seconds,
                    },
                ),
            ),
            (
                "duration:<=500ms",
                TermKind::Duration(
                    Cmp::Le,
                    Amount {
                        value: 500,
                        unit: Unit::Millis,
                    },
                ),
            ),
            (
                "duration:2h",
                TermKind::Duration(
                    Cmp::Eq,
                    Amount {
                        value: 2,
                        unit: Unit::Hours,
                    },
                ),
            ),
            ("progress:<0.5", TermKind::Progress(Cmp::Lt, 0.5)),
            ("progress:>=1", TermKind::Progress(Cmp::Ge, 1.0)),
            ("progress:0", TermKind::Progress(Cmp::Eq, 0.0)),
            ("error:timeout", TermKind::Error("timeout".into())),
            ("retryOf:*", TermKind::RetryOf(None)),
            ("retryof:*", TermKind::RetryOf(None)),
            (
                "retryOf:0193a5f0-0000-7000-8000-000000000001",
                TermKind::RetryOf(Some(id)),
            ),
            ("has:error", TermKind::Has(Has::Error)),
            ("has:campaign", TermKind::Has(Has::Campaign)),
            (
                "id:0193a5f0-0000-7000-8000-000000000001",
                TermKind::Id(vec![id]),
            ),
            (
                "ID:0193a5f0-0000-7000-8000-000000000001,0193a5f0-0000-7000-8000-000000000002",
                TermKind::Id(vec![
                    id,
                    "0193a5f0-0000-7000-8000-000000000002".parse().unwrap(),
                ]),
            ),
            ("stripe", TermKind::Word("stripe".into())),
            ("12:30", TermKind::Word("12:30".into())),
            ("a=b", TermKind::Word("a=b".into())),
            (
                "\"upstream returned 502\"",
                TermKind::Phrase("upstream returned 502".into()),
            ),
            ("\"say \\\"hi\\\"\"", TermKind::Phrase("say \"hi\"".into())),
            ("and", TermKind::Word("and".into())),
        ];
        for (text, kind) in cases {
            assert_eq!(parse(text), term(kind), "{text}");
        }
    }

    #[test]
    fn terms_keep_their_positions() {
        let Expr::And(items) = parse("  stripe  -status:failed (agent:x)") else {
            panic!("an And");
        };
        let positions: Vec<usize> = items
            .iter()
            .flat_map(|item| item.terms())
            .map(|term| term.position)
            .collect();
        assert_eq!(positions, vec![2, 11, 26]);
    }

    #[test]
    fn juxtaposition_and_explicit_and_are_the_same() {
        let expected = Expr::And(vec![word("a"), word("b"), word("c")]);
        assert_eq!(parse("a b c"), expected);
        assert_eq!(parse("a AND b AND c"), expected);
        assert_eq!(
            parse("a (b c)"),
            expected,
            "a group of the same kind is flattened"
        );
        assert_eq!(parse("((a))"), word("a"));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let not = |expr: Expr| Expr::Not(Box::new(expr));
        assert_eq!(
            parse("a b OR c"),
            Expr::Or(vec![Expr::And(vec![word("a"), word("b")]), word("c")])
        );
        assert_eq!(
            parse("a OR b c"),
            Expr::Or(vec![word("a"), Expr::And(vec![word("b"), word("c")])])
        );
        assert_eq!(parse("NOT a b"), Expr::And(vec![not(word("a")), word("b")]));
        assert_eq!(parse("-a OR b"), Expr::Or(vec![not(word("a")), word("b")]));
        assert_eq!(
            parse("a (b OR c)"),
            Expr::And(vec![word("a"), Expr::Or(vec![word("b"), word("c")])])
        );
        assert_eq!(
            parse("-(a OR b) c"),
            Expr::And(vec![not(Expr::Or(vec![word("a"), word("b")])), word("c")])
        );
        assert_eq!(
            parse("a OR b OR c"),
            Expr::Or(vec![word("a"), word("b"), word("c")])
        );
        assert_eq!(parse("NOT NOT a"), not(not(word("a"))));
        assert_eq!(parse("--a"), not(not(word("a"))));
        // A dash that negates nothing is a word.
        assert_eq!(
            parse("a - b"),
            Expr::And(vec![word("a"), word("-"), word("b")])
        );
        assert_eq!(parse("foo-bar"), word("foo-bar"));
    }

    #[test]
    fn syntax_errors_say_what_was_expected_and_where() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "status:",
                7,
                "expected a status (requested, queued, running, completed, failed, cancelled) after \"status:\"",
            ),
            (
                "x status:done",
                9,
                "expected a status (requested, queued, running, completed, failed, cancelled) after \"status:\", got \"done\"",
            ),
            ("status:failed,done", 14, "got \"done\""),
            ("status:\"failed,done\"", 15, "got \"done\""),
            ("stauts:failed", 0, "unknown qualifier \"stauts:\" (did you mean \"status:\"?)"),
            ("agnet:x", 0, "did you mean \"agent:\"?"),
            ("retry_of:*", 0, "did you mean \"retryOf:\"?"),
            ("zzzzzzzz:1", 0, "unknown qualifier \"zzzzzzzz:\"; expected one of status:"),
            ("https://example.com", 0, "put it in quotes"),
            ("created:yesterday", 8, "expected a date (2026-11-01)"),
            ("created:>", 9, "after \"created:\""),
            ("created:-7y", 8, "a time ago (-7d; m, h, d, w)"),
            ("duration:>60", 10, "expected a duration with its unit (500ms, 60s, 5m, 2h) after \"duration:\", got \"60\""),
            ("duration:>99999999999999999h", 10, "expected a duration"),
            ("progress:<2", 10, "expected a progress from 0 to 1 (0.5)"),
            ("progress:abc", 9, "expected a progress"),
            ("agent:>x", 6, "\"agent:\" takes no comparison"),
            ("tag:", 4, "expected a tag after \"tag:\""),
            ("agent:\"\"", 6, "expected an agent's slug"),
            ("retryOf:yes", 8, "expected * (any retry) or the id of the run retried"),
            ("id:0193a5f0-0000-7000-8000-000000000001,nope", 40, "expected a run's id (a comma list: any of them) after \"id:\", got \"nope\""),
            ("id:", 3, "expected a run's id"),
            ("has:tags", 4, "expected error or campaign after \"has:\", got \"tags\""),
            ("input.:x", 0, "expected a field path such as input.company.name"),
            ("input.a..b:x", 0, "expected a field path"),
            ("input.a:", 8, "expected a value"),
            ("a OR", 4, "expected a term (a word, a \"quoted phrase\" or a qualifier such as status:failed) after \"OR\""),
            ("OR a", 0, "got \"OR\""),
            ("a AND OR b", 6, "after \"AND\", got \"OR\""),
            ("NOT", 3, "after \"NOT\""),
            ("(a", 2, "expected \")\" to close the \"(\" at 0"),
            ("(a OR (b c)", 11, "expected \")\" to close the \"(\" at 0"),
            ("a)", 1, "unexpected \")\": there is no \"(\" to close"),
            ("()", 1, "expected a term (a word, a \"quoted phrase\" or a qualifier such as status:failed) after \"(\""),
            ("\"open", 5, "expected a closing quote (\") for the one opened at 0"),
            ("\"  \"", 0, "expected words between the quotes"),
            ("é status:x", 9, "got \"x\""),
        ];
        for (text, position, message) in cases {
            let error = fails(text);
            assert_eq!(error.position, *position, "{text}: {error}");
            assert!(error.message.contains(message), "{text}: {error}");
        }
        assert_eq!(
            fails("status:").to_string(),
            "expected a status (requested, queued, running, completed, failed, cancelled) after \"status:\" at 7"
        );
    }

    #[test]
    fn a_dash_alone_is_a_word_but_a_trailing_not_is_an_error() {
        assert_eq!(parse("a -"), Expr::And(vec![word("a"), word("-")]));
        assert_eq!(fails("a NOT").position, 5);
    }

    #[test]
    fn limits_are_refused_with_a_message() {
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        let error = fails(&long);
        assert_eq!(error.position, MAX_QUERY_CHARS);
        assert!(error.message.contains("at most 4000"), "{error}");
        assert!(Query::parse(&"a".repeat(MAX_QUERY_CHARS)).is_ok());

        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        let error = fails(&deep);
        assert_eq!(error.position, MAX_DEPTH);
        assert!(error.message.contains("more than 12 deep"), "{error}");
        let ok = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Query::parse(&ok).is_ok());
        let negations = format!("{}a", "-".repeat(MAX_DEPTH + 1));
        assert!(fails(&negations).message.contains("deep"));

        let many: Vec<String> = (0..=MAX_TERMS).map(|index| format!("w{index}")).collect();
        let error = fails(&many.join(" "));
        assert!(error.message.contains("more than 50 terms"), "{error}");
        assert!(Query::parse(&many[..MAX_TERMS].join(" ")).is_ok());
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        let cases = [
            ("status:failed", "status:failed"),
            ("Status:FAILED,Cancelled", "status:failed,cancelled"),
            ("a AND b", "a b"),
            ("a (b OR c)", "a (b OR c)"),
            ("(a b) OR c", "a b OR c"),
            ("NOT status:failed", "-status:failed"),
            ("NOT (a OR b)", "-(a OR b)"),
            ("-(a b)", "-(a b)"),
            ("NOT NOT a", "-(-a)"),
            ("input.company_name=Stripe", "input.company_name:Stripe"),
            ("initial_input.x:1", "input.x:1"),
            ("input.name:\"Acme Corp\"", "input.name:\"Acme Corp\""),
            ("campaign:\"Spring (beta)\"", "campaign:\"Spring (beta)\""),
            ("tag:\">5\"", "tag:\">5\""),
            ("created:-7d", "created:>=-7d"),
            ("created:<2026-11-01", "created:<2026-11-01"),
            (
                "created:>2026-11-01T08:00:00+02:00",
                "created:>2026-11-01T06:00:00Z",
            ),
            ("duration:>60s", "duration:>60s"),
            ("progress:<0.50", "progress:<0.5"),
            ("progress:1.0", "progress:1"),
            ("retryof:*", "retryOf:*"),
            ("HAS:Error", "has:error"),
            ("\"a \\\"b\\\" c\\\\\"", "\"a \\\"b\\\" c\\\\\""),
            ("a - b", "a - b"),
            ("12:30 x=y", "12:30 x=y"),
        ];
        for (text, canonical) in cases {
            let parsed = Query::parse(text).unwrap().unwrap();
            assert_eq!(parsed.to_string(), canonical, "{text}");
            let again = Query::parse(&parsed.to_string()).unwrap().unwrap();
            assert_eq!(again, parsed, "{text} → {canonical}");
        }
    }

    #[test]
    fn every_form_round_trips_in_combination() {
        let text = "crawler \"rate limit\" -tag:flaky (status:failed,cancelled OR error:timeout) \
                    agent:crawler campaign:\"Spring launch\" initiator:schedule input.company.name:Stripe \
                    created:>2026-11-01 created:<-7d duration:>=60s progress:<0.5 retryOf:* has:error \
                    NOT (has:campaign OR (a b) OR -c)";
        let parsed = Query::parse(text).unwrap().unwrap();
        let again = Query::parse(&parsed.to_string()).unwrap().unwrap();
        assert_eq!(again, parsed);
        assert_eq!(again.to_string(), parsed.to_string());
    }

    #[test]
    fn top_level_text_is_split_from_the_rest() {
        let query = Query::parse("stripe \"rate limit\" status:failed -invoice (a OR b)")
            .unwrap()
            .unwrap();
        let (text, rest) = query.split_text();
        let text: Vec<String> = text.iter().map(ToString::to_string).collect();
        assert_eq!(text, vec!["stripe", "\"rate limit\""]);
        assert_eq!(rest.unwrap().to_string(), "status:failed -invoice (a OR b)");

        let only_text = Query::parse("stripe").unwrap().unwrap();
        assert!(only_text.split_text().1.is_none());
        let or = Query::parse("a OR b").unwrap().unwrap();
        let (text, rest) = or.split_text();
        assert!(text.is_empty());
        assert_eq!(rest, Some(or.expr));
    }

    #[test]
    fn created_bounds_follow_the_day_or_instant() {
        let now = 1_800_000_000_000;
        let day_start = day("2026-11-01")
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis();
        let day_end = day_start + 86_400_000;
        let date = When::Date(day("2026-11-01"));
        assert_eq!(
            date.bounds_ms(Cmp::Eq, now),
            (Some(day_start), Some(day_end))
        );
        assert_eq!(date.bounds_ms(Cmp::Gt, now), (Some(day_end), None));
        assert_eq!(date.bounds_ms(Cmp::Ge, now), (Some(day_start), None));
        assert_eq!(date.bounds_ms(Cmp::Lt, now), (None, Some(day_start)));
        assert_eq!(date.bounds_ms(Cmp::Le, now), (None, Some(day_end)));
        let week = When::Ago(Amount {
            value: 1,
            unit: Unit::Weeks,
        });
        assert_eq!(
            week.bounds_ms(Cmp::Lt, now),
            (None, Some(now - 604_800_000))
        );
        assert_eq!(
            week.bounds_ms(Cmp::Ge, now),
            (Some(now - 604_800_000), None)
        );
    }

    /// Texts built from the language's pieces and some stray characters: none
    /// panics the parser or the completions, every query that parses round-trips
    /// through its display, and every error points inside the text.
    #[test]
    fn arbitrary_text_never_panics_and_parsed_text_round_trips() {
        const PIECES: &[&str] = &[
            "a",
            "Stripe",
            "-",
            "NOT ",
            "AND ",
            "OR ",
            "(",
            ")",
            " ",
            "\"",
            "\\",
            ":",
            "=",
            ">",
            "<=",
            "status:",
            "failed",
            ",",
            "agent:",
            "input.a.b",
            "input.",
            "created:",
            "-7d",
            "2026-11-01",
            "duration:",
            "60s",
            "progress:",
            "0.5",
            "retryOf:",
            "*",
            "has:",
            "error",
            "tag:",
            "é",
            "x=y",
            "campaign:",
            "\"a b\"",
            "12:30",
            "\t",
            "ms",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let mut parsed = 0;
        for _ in 0..20_000 {
            let length = next(12);
            let text: String = (0..length).map(|_| PIECES[next(PIECES.len())]).collect();
            let chars = text.chars().count();
            match Query::parse(&text) {
                Ok(Some(query)) => {
                    parsed += 1;
                    let shown = query.to_string();
                    let again = Query::parse(&shown)
                        .unwrap_or_else(|error| panic!("{text:?} → {shown:?}: {error}"))
                        .unwrap_or_else(|| panic!("{text:?} → {shown:?}: blank"));
                    assert_eq!(again, query, "{text:?} → {shown:?}");
                    assert_eq!(again.to_string(), shown, "{text:?}");
                }
                Ok(None) => assert!(text.trim().is_empty(), "{text:?}"),
                Err(error) => assert!(error.position <= chars, "{text:?}: {error}"),
            }
            for cursor in 0..=chars {
                for completion in completions(&text, cursor, &["crawler".to_string()]) {
                    assert!(
                        completion.replace.end <= chars
                            && completion.replace.start <= completion.replace.end
                    );
                }
            }
        }
        assert!(parsed > 2_000, "only {parsed} of the texts parsed");
    }

    fn labels(text: &str, cursor: usize, agents: &[String]) -> Vec<String> {
        completions(text, cursor, agents)
            .into_iter()
            .map(|completion| completion.insert)
            .collect()
    }

    #[test]
    fn completions_suggest_qualifiers_statuses_and_agents() {
        let agents = vec![
            "crawler".to_string(),
            "code-reviewer".to_string(),
            "data sync".to_string(),
        ];
        assert_eq!(labels("st", 2, &agents), vec!["status:"]);
        assert_eq!(labels("foo -St", 7, &agents), vec!["status:"]);
        assert_eq!(labels("", 0, &agents).len(), QUALIFIERS.len());
        assert_eq!(labels("in", 2, &agents), vec!["initiator:", "input."]);
        assert_eq!(labels("status:f", 8, &agents), vec!["failed"]);
        assert_eq!(
            labels("status:failed,c", 15, &agents),
            vec!["completed", "cancelled"]
        );
        assert_eq!(
            labels("agent:c", 7, &agents),
            vec!["crawler", "code-reviewer"]
        );
        assert_eq!(labels("agent:d", 7, &agents), vec!["\"data sync\""]);
        assert_eq!(labels("has:", 4, &agents), vec!["error", "campaign"]);
        assert_eq!(labels("retryOf:", 8, &agents), vec!["*"]);
        assert_eq!(
            labels("created:<-", 10, &agents),
            vec!["-1h", "-24h", "-7d", "-30d"]
        );
        assert!(
            labels("\"status", 7, &agents).is_empty(),
            "nothing inside quotes"
        );
        assert!(labels("tag:x", 5, &agents).is_empty());

        let found = completions("a (sta OR b", 6, &agents);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].replace, 3..6);
        let found = completions("status:failed,can x", 17, &agents);
        assert_eq!(found[0].replace, 14..17);
        assert_eq!(found[0].insert, "cancelled");
        let found = completions("agent:cr", 8, &agents);
        assert_eq!(found[0].replace, 6..8);
        // The cursor in the middle of the text, past its end, or after a multi-byte character.
        assert_eq!(labels("é ag x", 4, &agents), vec!["agent:"]);
        assert_eq!(labels("ag", 99, &agents), vec!["agent:"]);
    }

    #[test]
    fn completions_apply_to_text_that_parses() {
        let agents = vec!["crawler".to_string()];
        let text = "status:fa";
        let found = &completions(text, 9, &agents)[0];
        let chars: Vec<char> = text.chars().collect();
        let applied: String = chars[..found.replace.start]
            .iter()
            .chain(found.insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[found.replace.end..].iter())
            .collect();
        assert_eq!(applied, "status:failed");
        assert!(Query::parse(&applied).is_ok());
    }
}
