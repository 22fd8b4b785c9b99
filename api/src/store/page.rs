//! Relay paging over keyset cursors (no OFFSET, ever).
//!
//! A page request is turned into `WHERE (sort, id) > (v, i) ORDER BY sort, id
//! LIMIT n + 1` (comparison and order flipped for descending orders and for
//! `last`/`before`), so a page costs one index range scan at any depth. The extra
//! row tells whether another page follows in the paging direction; a `LIMIT 1`
//! probe on the other side of the cursor answers the opposite direction.

use std::{borrow::Cow, marker::PhantomData};

use sea_orm::{
    ColumnTrait, ColumnType, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, Order,
    QueryFilter, QueryOrder, QuerySelect, Select, sea_query::Expr,
};

use super::cursor::{Cursor, CursorValue};
use crate::domain::DomainError;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: u64 = 50;
/// Largest `first`/`last` accepted; more is `bad_request`.
pub const MAX_PAGE: u64 = 200;

/// The Relay arguments as received.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Which way a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `first`/`after`.
    Forward,
    /// `last`/`before`.
    Backward,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u64,
    pub direction: Direction,
    /// `after` when reading forward, `before` when reading backward.
    pub cursor: Option<Cursor>,
}

fn size(n: i32, name: &str) -> Result<u64, DomainError> {
    let n = u64::try_from(n)
        .map_err(|_| DomainError::BadRequest(format!("`{name}` must not be negative")))?;
    if n > MAX_PAGE {
        return Err(DomainError::BadRequest(format!(
            "`{name}` must be at most {MAX_PAGE}"
        )));
    }
    Ok(n)
}

fn cursor(raw: &str, name: &str, order: &str) -> Result<Cursor, DomainError> {
    let bad = || {
        DomainError::BadRequest(format!(
            "`{name}` is not a cursor of this connection and order"
        ))
    };
    let c = Cursor::decode(raw).map_err(|_| bad())?;
    if c.order != order {
        return Err(bad());
    }
    Ok(c)
}

impl PageArgs {
    /// Validates the arguments for a connection sorted by `order` (the cursor tag).
    pub fn resolve(&self, order: &str) -> Result<PageRequest, DomainError> {
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(DomainError::BadRequest(
                "pass `first` or `last`, not both".into(),
            )),
            (_, Some(last)) => {
                if self.after.is_some() {
                    return Err(DomainError::BadRequest("`after` goes with `first`".into()));
                }
                Ok(PageRequest {
                    limit: size(last, "last")?,
                    direction: Direction::Backward,
                    cursor: self
                        .before
                        .as_deref()
                        .map(|c| cursor(c, "before", order))
                        .transpose()?,
                })
            }
            (first, None) => {
                if self.before.is_some() && first.is_some() {
                    return Err(DomainError::BadRequest("`before` goes with `last`".into()));
                }
                if self.before.is_some() {
                    // `before` alone: the default page size, read backward.
                    return Ok(PageRequest {
                        limit: DEFAULT_PAGE,
                        direction: Direction::Backward,
                        cursor: self
                            .before
                            .as_deref()
                            .map(|c| cursor(c, "before", order))
                            .transpose()?,
                    });
                }
                Ok(PageRequest {
                    limit: first
                        .map(|f| size(f, "first"))
                        .transpose()?
                        .unwrap_or(DEFAULT_PAGE),
                    direction: Direction::Forward,
                    cursor: self
                        .after
                        .as_deref()
                        .map(|c| cursor(c, "after", order))
                        .transpose()?,
                })
            }
        }
    }

    /// The most nodes this page may return (for query cost).
    pub fn max_nodes(first: Option<i32>, last: Option<i32>) -> usize {
        let n = first.or(last).map_or(DEFAULT_PAGE, |n| {
            Ord::min(u64::try_from(n).unwrap_or(0), MAX_PAGE)
        });
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

/// One page of rows, in the connection's order.
#[derive(Debug, Clone)]
pub struct PageResult<M> {
    pub items: Vec<M>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

/// How a connection is sorted: an optional column, then the id as tie-breaker.
/// Its rows are decoded as `R` (`E::Model` itself, or a faster decoder of it,
/// such as `lead_row::LeadRow`).
pub struct Sort<E: EntityTrait, R = <E as EntityTrait>::Model> {
    /// Cursor tag naming this ordering.
    pub tag: &'static str,
    pub column: Option<E::Column>,
    pub id: E::Column,
    pub ascending: bool,
    pub rows: PhantomData<fn() -> R>,
}

/// Whether a cursor value can be compared with a column of this type.
fn fits(column: &ColumnType, value: &CursorValue) -> bool {
    match value {
        CursorValue::Int(_) => matches!(
            column,
            ColumnType::TinyInteger
                | ColumnType::SmallInteger
                | ColumnType::Integer
                | ColumnType::BigInteger
                | ColumnType::TinyUnsigned
                | ColumnType::SmallUnsigned
                | ColumnType::Unsigned
                | ColumnType::BigUnsigned
        ),
        CursorValue::Time(_) => matches!(
            column,
            ColumnType::DateTime | ColumnType::Timestamp | ColumnType::TimestampWithTimeZone
        ),
        CursorValue::Text(_) => matches!(
            column,
            ColumnType::String(_) | ColumnType::Text | ColumnType::Char(_)
        ),
    }
}

impl<E: EntityTrait> Sort<E> {
    /// Sorted by id alone: oldest first (`ascending`) or newest first.
    pub fn by_id(id: E::Column, ascending: bool) -> Self {
        let tag = if ascending { "id" } else { "id:desc" };
        Self {
            tag,
            column: None,
            id,
            ascending,
            rows: PhantomData,
        }
    }
}

impl<E, R> Sort<E, R>
where
    E: EntityTrait,
    R: FromQueryResult + Into<E::Model> + Send + Sync,
{
    /// Rows strictly after (`forward`) or strictly before the cursor, in sort order.
    fn beyond(&self, c: &Cursor, forward: bool) -> Result<sea_orm::Condition, DomainError> {
        let after = forward == self.ascending;
        let (lhs, rhs) = match (self.column, &c.value) {
            // A (tampered) value of another kind than the column would compare
            // oddly on SQLite and fail on PostgreSQL: refuse it like any bad cursor.
            (Some(col), Some(v)) if fits(col.def().get_column_type(), v) => (
                Expr::tuple([
                    Expr::col((E::default(), col)),
                    Expr::col((E::default(), self.id)),
                ]),
                Expr::tuple([Expr::val(sea_orm::Value::from(v.clone())), Expr::val(c.id)]),
            ),
            (None, None) => (Expr::col((E::default(), self.id)), Expr::val(c.id)),
            _ => {
                return Err(DomainError::BadRequest(
                    "cursor does not match this order".into(),
                ));
            }
        };
        Ok(sea_orm::Condition::all().add(if after { lhs.gt(rhs) } else { lhs.lt(rhs) }))
    }

    fn ordered(&self, select: Select<E>, forward: bool) -> Select<E> {
        let order = if forward == self.ascending {
            Order::Asc
        } else {
            Order::Desc
        };
        let select = match self.column {
            Some(col) => select.order_by(col, order.clone()),
            None => select,
        };
        select.order_by(self.id, order)
    }

    /// Fetches one page of `select` (already filtered by scope and filters).
    ///
    /// Whether rows exist on the other side of the cursor (`hasPreviousPage`
    /// reading forward, `hasNextPage` reading backward) costs a second query;
    /// it runs only when `other_side` asks for it (the caller's selection reads
    /// that flag), so a deep page costs what the first page does. Unasked, the
    /// flag is `false`.
    pub async fn page<C: ConnectionTrait>(
        &self,
        db: &C,
        select: Select<E>,
        req: &PageRequest,
        other_side: bool,
    ) -> Result<PageResult<E::Model>, DomainError> {
        let forward = req.direction == Direction::Forward;
        let mut main = select.clone();
        if let Some(c) = &req.cursor {
            main = main.filter(self.beyond(c, forward)?);
        }
        let mut items: Vec<E::Model> = self
            .ordered(main, forward)
            .limit(req.limit + 1)
            .into_model::<R>()
            .all(db)
            .await
            .map_err(DomainError::Db)?
            .into_iter()
            .map(Into::into)
            .collect();
        let more = items.len() as u64 > req.limit;
        items.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
        // Rows on the other side of the cursor exist? One indexed probe.
        let other_side = match &req.cursor {
            Some(c) if other_side => self
                .ordered(select.filter(self.beyond(c, !forward)?), !forward)
                .limit(1)
                .one(db)
                .await
                .map_err(DomainError::Db)?
                .is_some(),
            _ => false,
        };
        if !forward {
            items.reverse();
        }
        Ok(if forward {
            PageResult {
                items,
                has_previous_page: other_side,
                has_next_page: more,
            }
        } else {
            PageResult {
                items,
                has_previous_page: more,
                has_next_page: other_side,
            }
        })
    }

    /// Up to `limit` rows of `select` strictly after `cursor` (from the start
    /// without one), in sort order: a plain keyset read for walking a whole result
    /// (the export), without the page flags' extra probe.
    pub async fn after<C: ConnectionTrait>(
        &self,
        db: &C,
        select: Select<E>,
        cursor: Option<&Cursor>,
        limit: u64,
    ) -> Result<Vec<E::Model>, DomainError> {
        let select = match cursor {
            Some(c) => select.filter(self.beyond(c, true)?),
            None => select,
        };
        Ok(self
            .ordered(select, true)
            .limit(limit)
            .into_model::<R>()
            .all(db)
            .await
            .map_err(DomainError::Db)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The cursor of a row in this ordering.
    pub fn cursor_of(&self, value: Option<CursorValue>, id: i64) -> Cursor {
        Cursor {
            order: Cow::Borrowed(self.tag),
            value,
            id,
        }
    }
}
