//! What can be stored: [`Codec`] turns a sign-in result into bytes (sealed before they reach
//! Redis) and back, with expiries as wall-clock time.
//!
//! An [`Instant`] is milliseconds on one process's monotonic clock and means nothing to another
//! process, so expiries cross Redis as Unix-epoch milliseconds: converted with the writer's own
//! clock when stored and with the reader's own clock when loaded ([`TimeBase`]).

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use ssoflow_core::par_ordering::{CustomerAccount, SignIn};
use ssoflow_core::{AccessToken, Expiry, Instant, Secret, TokenSet};
use ssoflow_tokio::Clock;
use zeroize::Zeroize;

use crate::StoreError;

/// One reading of the process's [`Clock`] and of the wall clock, to convert between them.
///
/// The wall clock is the system time plus the `Clock`'s advance (zero in production): a test
/// that moves every replica's `Clock` forward moves the expiries they read from Redis alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBase {
    now: Instant,
    wall_ms: u64,
}

impl TimeBase {
    /// Read `clock` and the system time now.
    pub fn from_clock(clock: &Clock) -> Self {
        let now = clock.now();
        // Every `Clock` counts from one process-wide origin: a fresh one has no advance.
        let advance = now.millis_since(Clock::new().now());
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        TimeBase {
            now,
            wall_ms: system.saturating_add(advance),
        }
    }

    /// A base from explicit readings (for tests and other clocks).
    pub const fn new(now: Instant, wall_ms: u64) -> Self {
        TimeBase { now, wall_ms }
    }

    /// Now on the process's clock.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Now in Unix-epoch milliseconds.
    pub const fn wall_ms(&self) -> u64 {
        self.wall_ms
    }

    /// `at` (process clock) in Unix-epoch milliseconds.
    pub fn to_wall(&self, at: Instant) -> u64 {
        if at >= self.now {
            self.wall_ms.saturating_add(at.millis_since(self.now))
        } else {
            self.wall_ms.saturating_sub(self.now.millis_since(at))
        }
    }

    /// Unix-epoch milliseconds `wall_ms` on the process's clock (0 at the earliest).
    pub fn to_instant(&self, wall_ms: u64) -> Instant {
        if wall_ms >= self.wall_ms {
            self.now.plus_millis(wall_ms - self.wall_ms)
        } else {
            Instant::from_millis(self.now.as_millis().saturating_sub(self.wall_ms - wall_ms))
        }
    }

    /// An expiry as wall time (`None`: unknown).
    pub fn expiry_to_wall(&self, expiry: Expiry) -> Option<u64> {
        match expiry {
            Expiry::At(at) => Some(self.to_wall(at)),
            Expiry::Unknown => None,
        }
    }

    /// A wall-time expiry on the process's clock.
    pub fn expiry_from_wall(&self, wall_ms: Option<u64>) -> Expiry {
        wall_ms.map_or(Expiry::Unknown, |w| Expiry::At(self.to_instant(w)))
    }
}

/// A sign-in result that can be kept in the shared store.
///
/// `encode` writes plaintext bytes that are sealed (AES-256-GCM) before they leave the process;
/// `decode` reads them back. Expiries must go through the [`TimeBase`]. Implemented for
/// [`AccessToken`], [`TokenSet`] and PAR Ordering's [`SignIn`]; implement it for your own result
/// types (serde_json of a small mirror struct, as here, is fine).
pub trait Codec: Sized {
    /// A short name of the type, mixed into the key name: one key string used for two types
    /// gives two Redis keys, not one value the other type cannot read.
    const KIND: &'static str;

    /// Append `self` to `out` (a buffer that is zeroized after use).
    fn encode(&self, time: &TimeBase, out: &mut Vec<u8>) -> Result<(), StoreError>;

    /// Read a value written by `encode` (possibly in another process).
    fn decode(bytes: &[u8], time: &TimeBase) -> Result<Self, StoreError>;

    /// Whether the value holds a refresh token (default: no). Such a value is never renewed
    /// without the fleet's lock, is renewed from the fleet's newest copy, and lives in Redis
    /// as long as its refresh token ([`RedisConfig::refresh_token_ttl`](crate::RedisConfig)):
    /// a provider that rotates refresh tokens may revoke the whole family when one is used
    /// twice (RFC 9700 §4.14.2).
    fn holds_refresh_token(&self) -> bool {
        false
    }
}

/// Zeroize a decoded string the parser had to copy (one with escapes).
fn wipe(s: Cow<'_, str>) {
    if let Cow::Owned(mut s) = s {
        s.zeroize();
    }
}

fn bad(what: &'static str) -> StoreError {
    StoreError::Codec { what }
}

fn json<'a, R: Deserialize<'a>>(bytes: &'a [u8]) -> Result<R, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| bad("not the expected JSON"))
}

fn write<R: Serialize>(out: &mut Vec<u8>, repr: &R) -> Result<(), StoreError> {
    serde_json::to_writer(out, repr).map_err(|_| bad("encoding"))
}

#[derive(Serialize, Deserialize)]
struct TokenRepr<'a> {
    #[serde(borrow)]
    v: Cow<'a, str>,
    e: Option<u64>,
}

impl<'a> TokenRepr<'a> {
    fn of(t: &'a AccessToken, time: &TimeBase) -> Self {
        TokenRepr {
            v: Cow::Borrowed(t.value.expose()),
            e: time.expiry_to_wall(t.expiry),
        }
    }

    fn into_token(self, time: &TimeBase) -> Result<AccessToken, StoreError> {
        let value = Secret::new(&self.v, "access_token").map_err(|_| bad("access token"));
        wipe(self.v);
        Ok(AccessToken {
            value: value?,
            expiry: time.expiry_from_wall(self.e),
        })
    }
}

impl Codec for AccessToken {
    const KIND: &'static str = "access_token";

    fn encode(&self, time: &TimeBase, out: &mut Vec<u8>) -> Result<(), StoreError> {
        write(out, &TokenRepr::of(self, time))
    }

    fn decode(bytes: &[u8], time: &TimeBase) -> Result<Self, StoreError> {
        json::<TokenRepr<'_>>(bytes)?.into_token(time)
    }
}

#[derive(Serialize, Deserialize)]
struct TokenSetRepr<'a> {
    #[serde(borrow)]
    a: TokenRepr<'a>,
    #[serde(borrow)]
    r: Option<Cow<'a, str>>,
    #[serde(borrow)]
    s: Option<Cow<'a, str>>,
    x: Option<u64>,
}

impl Codec for TokenSet {
    const KIND: &'static str = "token_set";

    fn holds_refresh_token(&self) -> bool {
        self.refresh.is_some()
    }

    fn encode(&self, time: &TimeBase, out: &mut Vec<u8>) -> Result<(), StoreError> {
        write(
            out,
            &TokenSetRepr {
                a: TokenRepr::of(&self.access, time),
                r: self.refresh.as_ref().map(|r| Cow::Borrowed(r.expose())),
                s: self.scope.as_deref().map(Cow::Borrowed),
                x: self.expires_in,
            },
        )
    }

    fn decode(bytes: &[u8], time: &TimeBase) -> Result<Self, StoreError> {
        let repr: TokenSetRepr<'_> = json(bytes)?;
        let refresh = match repr.r {
            Some(r) => {
                let secret = Secret::new(&r, "refresh_token").map_err(|_| bad("refresh token"));
                wipe(r);
                Some(secret?)
            }
            None => None,
        };
        let scope = match repr.s {
            Some(s) => Some(heapless::String::try_from(&*s).map_err(|_| bad("scope"))?),
            None => None,
        };
        Ok(TokenSet {
            access: repr.a.into_token(time)?,
            refresh,
            scope,
            expires_in: repr.x,
        })
    }
}

/// PAR Ordering's customer account, field for field.
#[derive(Serialize, Deserialize)]
struct AccountRepr<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    type_id: i64,
    #[serde(borrow)]
    reference_type: Cow<'a, str>,
    #[serde(borrow)]
    first_name: Cow<'a, str>,
    #[serde(borrow)]
    last_name: Cow<'a, str>,
    #[serde(borrow)]
    email: Cow<'a, str>,
    #[serde(borrow)]
    phone_number: Cow<'a, str>,
    #[serde(borrow)]
    locale: Cow<'a, str>,
    state: i64,
    optin_status_email: i64,
    optin_status_pn: i64,
    has_pending_email_change: bool,
    has_pending_phone_number_change: bool,
    is_social: bool,
    #[serde(borrow)]
    updated_at: Cow<'a, str>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    confirmed: bool,
}

fn fit<const N: usize>(s: &str, what: &'static str) -> Result<heapless::String<N>, StoreError> {
    heapless::String::try_from(s).map_err(|_| bad(what))
}

impl<'a> AccountRepr<'a> {
    fn of(c: &'a CustomerAccount) -> Self {
        AccountRepr {
            id: Cow::Borrowed(&c.id),
            type_id: c.type_id,
            reference_type: Cow::Borrowed(&c.reference_type),
            first_name: Cow::Borrowed(&c.first_name),
            last_name: Cow::Borrowed(&c.last_name),
            email: Cow::Borrowed(&c.email),
            phone_number: Cow::Borrowed(&c.phone_number),
            locale: Cow::Borrowed(&c.locale),
            state: c.state,
            optin_status_email: c.optin_status_email,
            optin_status_pn: c.optin_status_pn,
            has_pending_email_change: c.has_pending_email_change,
            has_pending_phone_number_change: c.has_pending_phone_number_change,
            is_social: c.is_social,
            updated_at: Cow::Borrowed(&c.updated_at),
            created_at: Cow::Borrowed(&c.created_at),
            confirmed: c.confirmed,
        }
    }

    fn into_account(self) -> Result<CustomerAccount, StoreError> {
        Ok(CustomerAccount {
            id: fit(&self.id, "customer id")?,
            type_id: self.type_id,
            reference_type: fit(&self.reference_type, "reference_type")?,
            first_name: fit(&self.first_name, "first_name")?,
            last_name: fit(&self.last_name, "last_name")?,
            email: fit(&self.email, "email")?,
            phone_number: fit(&self.phone_number, "phone_number")?,
            locale: fit(&self.locale, "locale")?,
            state: self.state,
            optin_status_email: self.optin_status_email,
            optin_status_pn: self.optin_status_pn,
            has_pending_email_change: self.has_pending_email_change,
            has_pending_phone_number_change: self.has_pending_phone_number_change,
            is_social: self.is_social,
            updated_at: fit(&self.updated_at, "updated_at")?,
            created_at: fit(&self.created_at, "created_at")?,
            confirmed: self.confirmed,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SignInRepr<'a> {
    #[serde(borrow)]
    c: AccountRepr<'a>,
    #[serde(borrow)]
    m: TokenRepr<'a>,
    #[serde(borrow)]
    d: Option<TokenRepr<'a>>,
    /// The menu token's `ttl` as received (minutes); absent in values stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mt: Option<u64>,
    /// The DLC token's `ttl` as received (minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dt: Option<u64>,
}

impl Codec for SignIn {
    const KIND: &'static str = "par_sign_in";

    fn encode(&self, time: &TimeBase, out: &mut Vec<u8>) -> Result<(), StoreError> {
        write(
            out,
            &SignInRepr {
                c: AccountRepr::of(&self.customer),
                m: TokenRepr::of(&self.menu_token, time),
                d: self.dlc_token.as_ref().map(|t| TokenRepr::of(t, time)),
                mt: self.menu_token_ttl_min,
                dt: self.dlc_token_ttl_min,
            },
        )
    }

    fn decode(bytes: &[u8], time: &TimeBase) -> Result<Self, StoreError> {
        let repr: SignInRepr<'_> = json(bytes)?;
        // Decode the tokens first so their copies (if any) are wiped whatever fails after.
        let menu_token = repr.m.into_token(time);
        let dlc_token = repr.d.map(|d| d.into_token(time)).transpose();
        Ok(SignIn {
            customer: repr.c.into_account()?,
            menu_token: menu_token?,
            menu_token_ttl_min: repr.mt,
            dlc_token: dlc_token?,
            dlc_token_ttl_min: repr.dt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TimeBase {
        TimeBase::new(Instant::from_millis(5_000), 1_700_000_000_000)
    }

    fn token(v: &str, expiry: Expiry) -> AccessToken {
        AccessToken {
            value: Secret::new(v, "t").unwrap(),
            expiry,
        }
    }

    fn round_trip<T: Codec>(t: &T, write: &TimeBase, read: &TimeBase) -> T {
        let mut out = Vec::new();
        t.encode(write, &mut out).unwrap();
        T::decode(&out, read).unwrap()
    }

    #[test]
    fn time_conversion_is_relative_to_each_process_clock() {
        let b = base();
        assert_eq!(b.to_wall(Instant::from_millis(65_000)), 1_700_000_060_000);
        assert_eq!(b.to_wall(Instant::from_millis(1_000)), 1_699_999_996_000);
        assert_eq!(
            b.to_instant(1_700_000_060_000),
            Instant::from_millis(65_000)
        );
        assert_eq!(b.to_instant(0), Instant::from_millis(0));
        // Another process whose monotonic clock started elsewhere, 1 s later in wall time.
        let other = TimeBase::new(Instant::from_millis(100), 1_700_000_001_000);
        let t = round_trip(
            &token("abc", Expiry::At(Instant::from_millis(65_000))),
            &b,
            &other,
        );
        assert_eq!(t.expiry, Expiry::At(Instant::from_millis(59_100)));
        assert_eq!(
            round_trip(&token("abc", Expiry::Unknown), &b, &other).expiry,
            Expiry::Unknown
        );
    }

    #[test]
    fn clock_advance_moves_wall_time() {
        let clock = Clock::new();
        let before = TimeBase::from_clock(&clock);
        // No advance: the system time. (Guards the assumption that every `Clock` counts from
        // one process-wide origin, so a fresh one reads the advance-free time.)
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(before.wall_ms().abs_diff(system) < 1_000);
        clock.advance(std::time::Duration::from_secs(3_600));
        let after = TimeBase::from_clock(&clock);
        let moved = after.wall_ms() - before.wall_ms();
        assert!((3_600_000..3_660_000).contains(&moved), "{moved}");
    }

    #[test]
    fn token_sets_and_escapes() {
        let b = base();
        let set = TokenSet {
            access: token(r#"a"b\c"#, Expiry::At(Instant::from_millis(9_000))),
            refresh: Some(Secret::new("r-1", "r").unwrap()),
            scope: Some(heapless::String::try_from("read write").unwrap()),
            expires_in: Some(4),
        };
        assert_eq!(round_trip(&set, &b, &b), set);
        let bare = TokenSet {
            refresh: None,
            scope: None,
            expires_in: None,
            ..set
        };
        assert_eq!(round_trip(&bare, &b, &b), bare);
    }

    #[test]
    fn par_sign_in_with_customer_fields() {
        let b = base();
        let customer = CustomerAccount {
            id: heapless::String::try_from("0b3c4d5e-0000-4000-8000-000000000001").unwrap(),
            type_id: 3,
            first_name: heapless::String::try_from("Zoë 😀").unwrap(),
            email: heapless::String::try_from("jane.doe@partech.com").unwrap(),
            confirmed: true,
            ..CustomerAccount::default()
        };
        let s = SignIn {
            customer,
            menu_token: token("menu", Expiry::At(Instant::from_millis(65_000))),
            menu_token_ttl_min: Some(60),
            dlc_token: Some(token("dlc", Expiry::Unknown)),
            dlc_token_ttl_min: None,
        };
        assert_eq!(round_trip(&s, &b, &b), s);
    }

    #[test]
    fn garbage_and_capacity_are_codec_errors() {
        let b = base();
        assert!(matches!(
            AccessToken::decode(b"{", &b),
            Err(StoreError::Codec { .. })
        ));
        let long = format!(r#"{{"v":"{}","e":null}}"#, "x".repeat(3000));
        assert!(matches!(
            AccessToken::decode(long.as_bytes(), &b),
            Err(StoreError::Codec { .. })
        ));
    }
}
