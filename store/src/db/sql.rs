//! Queries that run on either database: the same SQL text and arguments, sent to
//! SQLite or to PostgreSQL, whichever the connection or pool belongs to.
//!
//! The store writes each query once, in SQLite's spelling with `?` placeholders,
//! through the functions here ([`query`], [`query_as`], [`query_scalar`],
//! [`SqlBuilder`]). They mirror sqlx's own so that a query reads the same; what
//! differs is that the arguments are kept as plain values ([`Arg`]) until the
//! database is known, and that the placeholders are renumbered to PostgreSQL's
//! `$n` on the way there ([`postgres_placeholders`]). SQLite receives the text
//! unchanged, so its plans, and the query-plans guard that checks them, stay as
//! they were. Where the two databases need different SQL, the caller asks
//! [`Backend`] and writes both halves side by side.
//!
//! Rows decode through sqlx's `FromRow`, which the derive implements for every
//! database at once; [`Rows`] and [`Value`] name the bounds both need.

use super::WriteTx;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Arguments, Postgres, Sqlite, Transaction};
use std::borrow::Cow;
use std::marker::PhantomData;

/// The database a pool or connection belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database a `DATABASE_URL` names, by its scheme (`None` for neither).
    pub fn of_url(url: &str) -> Option<Backend> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// The integers of a JSON array bound as text (`[1, 2, 3]`), as a subquery:
/// how SQLite reads a list of keys given as one argument ...
pub const JSON_KEYS: &str = "(SELECT value FROM json_each(?))";
/// ... and how PostgreSQL does.
pub const JSON_KEYS_POSTGRES: &str =
    "(SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(? AS json)))";

/// One argument of a query, kept until the database it goes to is known. A NULL
/// keeps its type: PostgreSQL checks a parameter's type against its use.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

/// A value a query can take as an argument.
pub trait IntoArg {
    fn into_arg(self) -> Arg;
    /// NULL of this value's type (what `None::<Self>` binds).
    fn null() -> Arg
    where
        Self: Sized;
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                Arg::Int(Some(i64::from(self)))
            }
            fn null() -> Arg {
                Arg::Int(None)
            }
        }
    )*};
}
int_arg!(i64, i32, i16, i8, u32, u16, u8, bool);

macro_rules! key_arg {
    ($($t:ty),*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                Arg::Int(Some(self.0))
            }
            fn null() -> Arg {
                Arg::Int(None)
            }
        }
    )*};
}
key_arg!(
    model::AccountPk,
    model::UserPk,
    model::RunPk,
    model::CampaignPk
);

impl IntoArg for f64 {
    fn into_arg(self) -> Arg {
        Arg::Real(Some(self))
    }
    fn null() -> Arg {
        Arg::Real(None)
    }
}

impl IntoArg for String {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self))
    }
    fn null() -> Arg {
        Arg::Text(None)
    }
}

impl IntoArg for &str {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self.to_string()))
    }
    fn null() -> Arg {
        Arg::Text(None)
    }
}

impl IntoArg for Cow<'_, str> {
    fn into_arg(self) -> Arg {
        Arg::Text(Some(self.into_owned()))
    }
    fn null() -> Arg {
        Arg::Text(None)
    }
}

impl IntoArg for Vec<u8> {
    fn into_arg(self) -> Arg {
        Arg::Blob(Some(self))
    }
    fn null() -> Arg {
        Arg::Blob(None)
    }
}

impl IntoArg for &[u8] {
    fn into_arg(self) -> Arg {
        Arg::Blob(Some(self.to_vec()))
    }
    fn null() -> Arg {
        Arg::Blob(None)
    }
}

impl<T: IntoArg> IntoArg for Option<T> {
    fn into_arg(self) -> Arg {
        match self {
            Some(value) => value.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg {
        T::null()
    }
}

impl<T: IntoArg + Clone> IntoArg for &T {
    fn into_arg(self) -> Arg {
        self.clone().into_arg()
    }
    fn null() -> Arg {
        T::null()
    }
}

impl IntoArg for Arg {
    fn into_arg(self) -> Arg {
        self
    }
    fn null() -> Arg {
        Arg::Int(None)
    }
}

/// A row type both databases can decode (what `#[derive(sqlx::FromRow)]` and
/// tuples of [`Value`]s give).
pub trait Rows:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Rows for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

/// A single column's type both databases can decode.
pub trait Value:
    sqlx::Type<Sqlite>
    + for<'r> sqlx::Decode<'r, Sqlite>
    + sqlx::Type<Postgres>
    + for<'r> sqlx::Decode<'r, Postgres>
    + Send
    + Unpin
{
}
impl<T> Value for T where
    T: sqlx::Type<Sqlite>
        + for<'r> sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Postgres>
        + for<'r> sqlx::Decode<'r, Postgres>
        + Send
        + Unpin
{
}

/// A pool of either database.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// One connection of the pool, for several queries in a row (or a read
    /// transaction).
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(pool) => Conn::Sqlite(pool.acquire().await?),
            Pool::Postgres(pool) => Conn::Postgres(pool.acquire().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    pub fn is_closed(&self) -> bool {
        match self {
            Pool::Sqlite(pool) => pool.is_closed(),
            Pool::Postgres(pool) => pool.is_closed(),
        }
    }

    /// The SQLite pool, for what only SQLite has (pragmas, FTS5, backups).
    pub fn sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }
}

/// One connection of either database, on its own or inside a transaction.
#[derive(Debug)]
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    SqliteTx(Transaction<'static, Sqlite>),
    Postgres(PoolConnection<Postgres>),
    PostgresTx(Transaction<'static, Postgres>),
}

impl Conn {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) | Conn::SqliteTx(_) => Backend::Sqlite,
            Conn::Postgres(_) | Conn::PostgresTx(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (FTS5, pragmas).
    pub fn sqlite(&mut self) -> Option<&mut SqliteConnection> {
        match self {
            Conn::Sqlite(conn) => Some(conn),
            Conn::SqliteTx(tx) => Some(tx),
            Conn::Postgres(_) | Conn::PostgresTx(_) => None,
        }
    }

    /// Commits the transaction this connection is in (nothing to do outside one).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::SqliteTx(tx) => tx.commit().await,
            Conn::PostgresTx(tx) => tx.commit().await,
            Conn::Sqlite(_) | Conn::Postgres(_) => Ok(()),
        }
    }
}

/// Where one query runs: a pool (which lends it a connection) or a connection.
pub enum Target<'c> {
    SqlitePool(&'c SqlitePool),
    Sqlite(&'c mut SqliteConnection),
    PostgresPool(&'c PgPool),
    Postgres(&'c mut PgConnection),
}

impl Target<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Target::SqlitePool(_) | Target::Sqlite(_) => Backend::Sqlite,
            Target::PostgresPool(_) | Target::Postgres(_) => Backend::Postgres,
        }
    }
}

/// What a query can run on: a [`Pool`], a [`Conn`], a write transaction, or
/// sqlx's own pools and connections of either database.
pub trait Executor<'c> {
    fn target(self) -> Target<'c>;
}

impl<'c> Executor<'c> for &'c Pool {
    fn target(self) -> Target<'c> {
        match self {
            Pool::Sqlite(pool) => Target::SqlitePool(pool),
            Pool::Postgres(pool) => Target::PostgresPool(pool),
        }
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    fn target(self) -> Target<'c> {
        match self {
            Conn::Sqlite(conn) => Target::Sqlite(conn),
            Conn::SqliteTx(tx) => Target::Sqlite(tx),
            Conn::Postgres(conn) => Target::Postgres(conn),
            Conn::PostgresTx(tx) => Target::Postgres(tx),
        }
    }
}

impl<'c> Executor<'c> for &'c mut WriteTx {
    fn target(self) -> Target<'c> {
        (&mut **self).target()
    }
}

impl<'c> Executor<'c> for Target<'c> {
    fn target(self) -> Target<'c> {
        self
    }
}

/// What a statement that returns no rows did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// Runs `$fetch` (`execute`, `fetch_one`, `fetch_optional` or `fetch_all`) of
/// sqlx's `$make` (`query_with`, `query_as_with` or `query_scalar_with`) on
/// whichever database `$on` belongs to, `$then` making the two databases'
/// answers one type; a failure is logged with its SQL ([`failed`]).
macro_rules! fetch {
    ($query:expr, $on:expr, $make:ident, $fetch:ident, $then:expr) => {{
        let Query {
            sql,
            postgres,
            args,
        } = $query;
        match $on.target() {
            Target::SqlitePool(pool) => sqlx::$make(&sql, sqlite_args(args)?)
                .$fetch(pool)
                .await
                .map($then),
            Target::Sqlite(conn) => sqlx::$make(&sql, sqlite_args(args)?)
                .$fetch(conn)
                .await
                .map($then),
            Target::PostgresPool(pool) => {
                let text = postgres_text(&sql, postgres.as_deref());
                sqlx::$make(&text, postgres_args(args)?)
                    .$fetch(pool)
                    .await
                    .map($then)
            }
            Target::Postgres(conn) => {
                let text = postgres_text(&sql, postgres.as_deref());
                sqlx::$make(&text, postgres_args(args)?)
                    .$fetch(conn)
                    .await
                    .map($then)
            }
        }
        .inspect_err(|error| failed(&sql, error))
    }};
}

/// The text PostgreSQL receives for a query: its own spelling where it has one
/// (`postgres`), else SQLite's, with `$n` placeholders.
fn postgres_text(sql: &str, postgres: Option<&str>) -> String {
    postgres_placeholders(postgres.unwrap_or(sql))
}

/// `sql` with its arguments, for either database.
#[derive(Clone, Debug)]
pub struct Query {
    sql: Cow<'static, str>,
    /// PostgreSQL's spelling, where it differs ([`Query::postgres`]).
    postgres: Option<Cow<'static, str>>,
    args: Vec<Arg>,
}

/// A statement (or a query whose rows are not read).
pub fn query(sql: impl Into<Cow<'static, str>>) -> Query {
    Query {
        sql: sql.into(),
        postgres: None,
        args: Vec::new(),
    }
}

/// A query whose rows decode as `O`.
pub fn query_as<O: Rows>(sql: impl Into<Cow<'static, str>>) -> QueryAs<O> {
    QueryAs {
        query: query(sql),
        rows: PhantomData,
    }
}

/// A query whose rows are one column, decoded as `O`.
pub fn query_scalar<O: Value>(sql: impl Into<Cow<'static, str>>) -> QueryScalar<O> {
    QueryScalar {
        query: query(sql),
        value: PhantomData,
    }
}

impl Query {
    pub fn bind(mut self, value: impl IntoArg) -> Self {
        self.args.push(value.into_arg());
        self
    }

    /// The same query in PostgreSQL's spelling, with the same arguments in the
    /// same order, for where the two databases' SQL differs.
    pub fn postgres(mut self, sql: impl Into<Cow<'static, str>>) -> Self {
        self.postgres = Some(sql.into());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The same query with `prefix` before its text (`EXPLAIN …`).
    pub fn prefixed(self, prefix: &str) -> Query {
        Query {
            sql: Cow::Owned(format!("{prefix}{}", self.sql)),
            postgres: self
                .postgres
                .map(|sql| Cow::Owned(format!("{prefix}{sql}"))),
            args: self.args,
        }
    }

    /// The same query, its rows decoded as `O`.
    pub fn into_query_as<O: Rows>(self) -> QueryAs<O> {
        QueryAs {
            query: self,
            rows: PhantomData,
        }
    }

    /// Runs the statement; what it did.
    pub async fn execute<'c>(self, on: impl Executor<'c>) -> Result<Done, sqlx::Error> {
        fetch!(self, on, query_with, execute, |done| Done {
            rows_affected: done.rows_affected()
        })
    }

    /// Runs the query and counts its rows without decoding them (what a
    /// benchmark of the SQL alone needs).
    pub async fn fetch_count<'c>(self, on: impl Executor<'c>) -> Result<usize, sqlx::Error> {
        fetch!(self, on, query_with, fetch_all, |rows| rows.len())
    }
}

/// The arguments as either database's sqlx arguments (`A`).
fn arguments<A>(args: Vec<Arg>) -> Result<A, sqlx::Error>
where
    A: Arguments<'static> + Default,
    Option<i64>: sqlx::Encode<'static, A::Database> + sqlx::Type<A::Database>,
    Option<f64>: sqlx::Encode<'static, A::Database> + sqlx::Type<A::Database>,
    Option<String>: sqlx::Encode<'static, A::Database> + sqlx::Type<A::Database>,
    Option<Vec<u8>>: sqlx::Encode<'static, A::Database> + sqlx::Type<A::Database>,
{
    let mut out = A::default();
    for arg in args {
        match arg {
            Arg::Int(value) => out.add(value),
            Arg::Real(value) => out.add(value),
            Arg::Text(value) => out.add(value),
            Arg::Blob(value) => out.add(value),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn sqlite_args(args: Vec<Arg>) -> Result<SqliteArguments<'static>, sqlx::Error> {
    arguments(args)
}

fn postgres_args(args: Vec<Arg>) -> Result<PgArguments, sqlx::Error> {
    arguments(args)
}

/// The methods [`QueryAs`] and [`QueryScalar`] share: binding, PostgreSQL's
/// spelling, and fetching through sqlx's `$make` (`query_as_with` or
/// `query_scalar_with`).
macro_rules! typed_query {
    ($name:ident, $decodes:ident, $make:ident) => {
        impl<O: $decodes> $name<O> {
            pub fn bind(mut self, value: impl IntoArg) -> Self {
                self.query = self.query.bind(value);
                self
            }

            /// The same query in PostgreSQL's spelling ([`Query::postgres`]).
            pub fn postgres(mut self, sql: impl Into<Cow<'static, str>>) -> Self {
                self.query = self.query.postgres(sql);
                self
            }

            pub async fn fetch_one<'c>(self, on: impl Executor<'c>) -> Result<O, sqlx::Error> {
                fetch!(self.query, on, $make, fetch_one, |found| found)
            }

            pub async fn fetch_optional<'c>(
                self,
                on: impl Executor<'c>,
            ) -> Result<Option<O>, sqlx::Error> {
                fetch!(self.query, on, $make, fetch_optional, |found| found)
            }

            pub async fn fetch_all<'c>(self, on: impl Executor<'c>) -> Result<Vec<O>, sqlx::Error> {
                fetch!(self.query, on, $make, fetch_all, |found| found)
            }
        }
    };
}

/// A query whose rows decode as `O` ([`query_as`]).
#[derive(Clone, Debug)]
pub struct QueryAs<O> {
    query: Query,
    rows: PhantomData<fn() -> O>,
}

/// Logs a failed query with its SQL (at debug level: the error itself is
/// reported by whoever handles it).
fn failed(sql: &str, error: &sqlx::Error) {
    tracing::debug!(%error, sql, "query failed");
}

typed_query!(QueryAs, Rows, query_as_with);

/// A query whose rows are one column decoded as `O` ([`query_scalar`]).
#[derive(Clone, Debug)]
pub struct QueryScalar<O> {
    query: Query,
    value: PhantomData<fn() -> O>,
}

typed_query!(QueryScalar, Value, query_scalar_with);

/// A query put together piece by piece, like sqlx's `QueryBuilder`, for either
/// database: `push` adds SQL text, `push_bind` an argument (as `?`).
#[derive(Clone, Debug, Default)]
pub struct SqlBuilder {
    sql: String,
    /// PostgreSQL's spelling, kept beside `sql` from the first piece that differs.
    postgres: Option<String>,
    args: Vec<Arg>,
}

impl SqlBuilder {
    pub fn new(init: impl AsRef<str>) -> SqlBuilder {
        SqlBuilder {
            sql: init.as_ref().to_string(),
            postgres: None,
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}");
        if let Some(postgres) = &mut self.postgres {
            let _ = write!(postgres, "{sql}");
        }
        self
    }

    /// SQL that SQLite and PostgreSQL spell differently: `sqlite` for the one,
    /// `postgres` for the other.
    pub fn push_dialect(&mut self, sqlite: &str, postgres: &str) -> &mut Self {
        self.postgres
            .get_or_insert_with(|| self.sql.clone())
            .push_str(postgres);
        self.sql.push_str(sqlite);
        self
    }

    /// SQLite's ` INDEXED BY index` (the index it must read); PostgreSQL has no
    /// such hint and is left to its planner.
    pub fn push_indexed_by(&mut self, index: &str) -> &mut Self {
        self.push_dialect(&format!(" INDEXED BY {index}"), "")
    }

    pub fn push_bind(&mut self, value: impl IntoArg) -> &mut Self {
        self.push("?");
        self.args.push(value.into_arg());
        self
    }

    /// A list whose items `separator` parts (`a, b, c`).
    pub fn separated(&mut self, separator: &'static str) -> Separated<'_> {
        Separated {
            builder: self,
            separator,
            first: true,
        }
    }

    /// `VALUES (…), (…)`: one parenthesised row per item, filled by `row`.
    pub fn push_values<I: IntoIterator>(
        &mut self,
        items: I,
        mut row: impl FnMut(Separated<'_>, I::Item),
    ) -> &mut Self {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            row(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// How many arguments are bound so far: the last one's number, which SQL
    /// further on can name again as `?NNN`.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    pub fn build(&self) -> Query {
        Query {
            sql: Cow::Owned(self.sql.clone()),
            postgres: self.postgres.clone().map(Cow::Owned),
            args: self.args.clone(),
        }
    }

    pub fn build_query_as<O: Rows>(&self) -> QueryAs<O> {
        QueryAs {
            query: self.build(),
            rows: PhantomData,
        }
    }

    pub fn build_query_scalar<O: Value>(&self) -> QueryScalar<O> {
        QueryScalar {
            query: self.build(),
            value: PhantomData,
        }
    }
}

/// The items of a list in a [`SqlBuilder`] ([`SqlBuilder::separated`]).
pub struct Separated<'b> {
    builder: &'b mut SqlBuilder,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    fn next_item(&mut self) {
        if !self.first {
            self.builder.push(self.separator);
        }
        self.first = false;
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.next_item();
        self.builder.push(sql);
        self
    }

    pub fn push_bind(&mut self, value: impl IntoArg) -> &mut Self {
        self.next_item();
        self.builder.push_bind(value);
        self
    }

    pub fn push_unseparated(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.builder.push(sql);
        self
    }

    pub fn push_bind_unseparated(&mut self, value: impl IntoArg) -> &mut Self {
        self.builder.push_bind(value);
        self
    }
}

/// `sql` with SQLite's placeholders (`?` and `?NNN`) written as PostgreSQL's
/// `$n`, numbered as SQLite numbers them: `?NNN` is argument NNN, and a bare `?`
/// the one after the largest number so far. Quoted text, quoted names and
/// comments are left alone.
pub fn postgres_placeholders(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut largest = 0usize;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        // A doubled quote is one quote character inside the text.
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'?' => {
                out.push_str(&sql[copied..i]);
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let number = if digits > 0 {
                    sql[i + 1..i + 1 + digits].parse().unwrap_or(largest + 1)
                } else {
                    largest + 1
                };
                largest = largest.max(number);
                out.push('$');
                out.push_str(&number.to_string());
                i += 1 + digits;
                copied = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_as_sqlite_numbers_them() {
        assert_eq!(
            postgres_placeholders("SELECT a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(
            postgres_placeholders("UPDATE t SET a = ?2, b = ?1 WHERE c = ?2 AND d = ?"),
            "UPDATE t SET a = $2, b = $1 WHERE c = $2 AND d = $3"
        );
    }

    #[test]
    fn question_marks_in_quoted_text_and_comments_stay() {
        assert_eq!(
            postgres_placeholders(
                "SELECT 'why?', \"odd?name\", 'it''s?' -- what?\n FROM t WHERE a = ? /* b? */"
            ),
            "SELECT 'why?', \"odd?name\", 'it''s?' -- what?\n FROM t WHERE a = $1 /* b? */"
        );
    }

    #[test]
    fn a_builder_lists_its_items_and_rows() {
        let mut builder = SqlBuilder::new("INSERT INTO t (a, b) ");
        builder.push_values([(1i64, "x"), (2, "y")], |mut row, (a, b)| {
            row.push_bind(a).push_bind(b);
        });
        builder.push(" WHERE c IN (");
        let mut list = builder.separated(", ");
        list.push_bind(3i64).push("4");
        builder.push(")");
        let query = builder.build();
        assert_eq!(
            query.sql(),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) WHERE c IN (?, 4)"
        );
        assert_eq!(
            query.args,
            vec![
                Arg::Int(Some(1)),
                Arg::Text(Some("x".into())),
                Arg::Int(Some(2)),
                Arg::Text(Some("y".into())),
                Arg::Int(Some(3)),
            ]
        );
    }

    #[test]
    fn a_builder_keeps_postgres_spelling_beside_sqlites() {
        let mut builder = SqlBuilder::new("SELECT a FROM t ");
        builder.push("WHERE b = ").push_bind(1i64).push(" AND ");
        builder.push_dialect("t MATCH ", "search @@ to_tsquery(");
        builder.push_bind("x");
        let query = builder.build();
        assert_eq!(query.sql(), "SELECT a FROM t WHERE b = ? AND t MATCH ?");
        assert_eq!(
            postgres_text(&query.sql, query.postgres.as_deref()),
            "SELECT a FROM t WHERE b = $1 AND search @@ to_tsquery($2"
        );
        let plain = SqlBuilder::new("SELECT ?").build();
        assert_eq!(
            postgres_text(&plain.sql, plain.postgres.as_deref()),
            "SELECT $1"
        );
    }

    #[test]
    fn a_null_keeps_its_type() {
        assert_eq!(None::<i64>.into_arg(), Arg::Int(None));
        assert_eq!(None::<String>.into_arg(), Arg::Text(None));
        assert_eq!(Some("a").into_arg(), Arg::Text(Some("a".into())));
    }
}
