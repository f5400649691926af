//! One SQL cell as JSON: each column type the result table can show, tried in turn;
//! NUMERIC/DECIMAL read exactly (as text) from the wire; anything else names its type.

use serde_json::Value;
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// Raw bytes of any column, whatever its type (the fallbacks below read them).
struct Raw(Vec<u8>);

macro_rules! raw_for {
    ($db:ty) => {
        impl sqlx::Type<$db> for Raw {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <&[u8] as sqlx::Type<$db>>::type_info()
            }
            fn compatible(_: &<$db as sqlx::Database>::TypeInfo) -> bool {
                true
            }
        }
        impl<'r> sqlx::Decode<'r, $db> for Raw {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <&[u8] as sqlx::Decode<'r, $db>>::decode(value).map(|b| Raw(b.to_vec()))
            }
        }
    };
}
raw_for!(sqlx::Postgres);
raw_for!(sqlx::MySql);

/// Tries each type in turn; the first the column is compatible with gives the cell.
macro_rules! first_of {
    ($row:expr, $i:expr; $($t:ty => $f:expr),+ $(,)?) => {{
        $(
            if let Ok(v) = $row.try_get::<Option<$t>, _>($i) {
                return v.map_or(Value::Null, $f);
            }
        )+
    }};
}

/// A PostgreSQL cell.
pub(super) fn pg_cell(row: &sqlx::postgres::PgRow, i: usize) -> Value {
    if row.try_get_raw(i).is_ok_and(|v| v.is_null()) {
        return Value::Null;
    }
    first_of!(row, i;
        bool => Value::from,
        i16 => Value::from,
        i32 => Value::from,
        i64 => Value::from,
        f32 => |f| Value::from(f64::from(f)),
        f64 => Value::from,
        String => Value::from,
        serde_json::Value => |v| v,
        chrono::DateTime<chrono::Utc> => |t| Value::from(t.to_rfc3339()),
        chrono::NaiveDateTime => |t| Value::from(t.to_string()),
        chrono::NaiveDate => |t| Value::from(t.to_string()),
        chrono::NaiveTime => |t| Value::from(t.to_string()),
        uuid::Uuid => |u| Value::from(u.to_string()),
        Vec<String> => Value::from,
        Vec<i64> => Value::from,
        Vec<i32> => Value::from,
    );
    let ty = row.columns()[i].type_info().name().to_owned();
    match (ty.as_str(), row.try_get::<Raw, _>(i)) {
        ("NUMERIC", Ok(Raw(b))) => pg_numeric(&b).map_or_else(|| unsupported(&ty), Value::from),
        _ => unsupported(&ty),
    }
}

/// A MySQL or MariaDB cell.
pub(super) fn mysql_cell(row: &sqlx::mysql::MySqlRow, i: usize) -> Value {
    if row.try_get_raw(i).is_ok_and(|v| v.is_null()) {
        return Value::Null;
    }
    first_of!(row, i;
        i64 => Value::from,
        u64 => Value::from,
        f64 => Value::from,
        f32 => |f| Value::from(f64::from(f)),
        String => Value::from,
        chrono::NaiveDateTime => |t| Value::from(t.to_string()),
        chrono::NaiveDate => |t| Value::from(t.to_string()),
        chrono::NaiveTime => |t| Value::from(t.to_string()),
        serde_json::Value => |v| v,
    );
    let ty = row.columns()[i].type_info().name().to_owned();
    match (ty.as_str(), row.try_get::<Raw, _>(i)) {
        // DECIMAL travels as text in both protocols.
        ("DECIMAL", Ok(Raw(b))) => {
            String::from_utf8(b).map_or_else(|_| unsupported(&ty), Value::from)
        }
        _ => unsupported(&ty),
    }
}

fn unsupported(ty: &str) -> Value {
    Value::from(format!("<{ty}: not shown>"))
}

/// PostgreSQL's binary NUMERIC (digit count, weight, sign, display scale, base-10000
/// digits) as exact decimal text.
fn pg_numeric(b: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i16> { Some(i16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])) };
    let ndigits = usize::try_from(word(0)?).ok()?;
    let weight = i64::from(word(2)?);
    let sign = word(4)? as u16;
    let dscale = usize::try_from(word(6)?).ok()?;
    match sign {
        0xC000 => return Some("NaN".into()),
        0xD000 => return Some("Infinity".into()),
        0xF000 => return Some("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i64> = (0..ndigits)
        .map(|k| word(8 + 2 * k).map(i64::from))
        .collect::<Option<_>>()?;
    // Integer part: groups 0..=weight; fraction: the groups after, cut to dscale.
    let mut int = String::new();
    for g in 0..=weight.max(0) {
        let d = usize::try_from(g)
            .ok()
            .and_then(|g| digits.get(g))
            .copied()
            .unwrap_or(0);
        if weight < 0 {
            break;
        }
        if int.is_empty() {
            int = d.to_string();
        } else {
            int.push_str(&format!("{d:04}"));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut g = weight + 1;
    while frac.len() < dscale {
        let d = if g < 0 {
            0
        } else {
            usize::try_from(g)
                .ok()
                .and_then(|g| digits.get(g))
                .copied()
                .unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        g += 1;
    }
    frac.truncate(dscale);
    let neg = if sign == 0x4000 { "-" } else { "" };
    Some(if dscale == 0 {
        format!("{neg}{int}")
    } else {
        format!("{neg}{int}.{frac}")
    })
}

#[cfg(test)]
mod tests {
    use super::pg_numeric;

    fn enc(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight, sign as i16, dscale] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b
    }

    #[test]
    fn numerics_read_exactly() {
        assert_eq!(pg_numeric(&enc(2, 0, 0, 2, &[12, 3400])).unwrap(), "12.34");
        assert_eq!(
            pg_numeric(&enc(2, 1, 0x4000, 0, &[1, 5])).unwrap(),
            "-10005"
        );
        assert_eq!(pg_numeric(&enc(1, -1, 0, 5, &[5])).unwrap(), "0.00050");
        assert_eq!(pg_numeric(&enc(0, 0, 0, 1, &[])).unwrap(), "0.0");
        assert_eq!(pg_numeric(&enc(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
    }
}
