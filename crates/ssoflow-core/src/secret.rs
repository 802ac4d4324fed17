//! `Secret`: a fixed-capacity string for credentials and tokens that never prints itself.

use core::fmt;
use zeroize::Zeroize;

use crate::Error;

/// A credential or token of at most `N` bytes.
///
/// `Debug` and `Display` print `Secret(***)`; the bytes are zeroized on drop. Read it with
/// [`Secret::expose`] only where it goes on the wire.
#[derive(Clone)]
pub struct Secret<const N: usize> {
    // `heapless::Vec`, not `[u8; N]`: an empty one costs nothing to make (no 2 KiB memset per
    // token), and clones copy only the bytes in use.
    bytes: heapless::Vec<u8, N>,
}

impl<const N: usize> Secret<N> {
    /// An empty secret.
    pub const fn empty() -> Self {
        Secret {
            bytes: heapless::Vec::new(),
        }
    }

    /// Copy `value` in; `Error::Capacity { field }` when it is longer than `N` bytes.
    pub fn new(value: &str, field: &'static str) -> Result<Self, Error> {
        let mut s = Self::empty();
        s.push_str(value, field)?;
        Ok(s)
    }

    /// Append text; `Error::Capacity { field }` when it does not fit (nothing is appended then).
    pub(crate) fn push_str(&mut self, value: &str, field: &'static str) -> Result<(), Error> {
        if extend(self.bytes.as_mut_view(), value.as_bytes()) {
            Ok(())
        } else {
            Err(Error::Capacity { field })
        }
    }

    /// Append bytes the JSON parser found to be ASCII; `false` when they do not fit (nothing is
    /// appended then). The ASCII check here is a word-at-a-time pass, much cheaper than UTF-8
    /// decoding, and keeps the secret valid UTF-8 whoever calls it.
    pub(crate) fn push_ascii_bytes(&mut self, bytes: &[u8]) -> bool {
        if !bytes.is_ascii() {
            return match core::str::from_utf8(bytes) {
                Ok(s) => self.push_str(s, "").is_ok(),
                Err(_) => false,
            };
        }
        extend(self.bytes.as_mut_view(), bytes)
    }

    /// Zeroize and empty the secret, keeping it in place (to read a new value into it).
    pub(crate) fn clear(&mut self) {
        wipe(self.bytes.as_mut_view());
    }

    /// The secret's text, for putting it on the wire. Do not log it.
    pub fn expose(&self) -> &str {
        // Only whole `&str`s are ever appended, so this is always valid UTF-8.
        core::str::from_utf8(&self.bytes).unwrap_or("")
    }

    /// The secret's bytes (valid UTF-8), for checks that need no `&str`.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Compare with `other` in time independent of where they differ.
    pub fn ct_eq(&self, other: &str) -> bool {
        let a = self.expose().as_bytes();
        let b = other.as_bytes();
        let mut diff = u8::from(a.len() != b.len());
        for (x, y) in a.iter().zip(b) {
            diff |= x ^ y;
        }
        diff == 0
    }
}

/// Append to a secret's bytes through the unsized view: one copy for every capacity.
#[inline(never)]
fn extend(bytes: &mut heapless::vec::VecView<u8>, more: &[u8]) -> bool {
    bytes.extend_from_slice(more).is_ok()
}

/// Zeroize the bytes in use and empty the vector. Not inlined: every drop of every output
/// holding secrets calls it, and firmware flash pays for each inlined copy.
#[inline(never)]
fn wipe(bytes: &mut heapless::vec::VecView<u8>) {
    bytes.as_mut_slice().zeroize();
    bytes.clear();
}

impl<const N: usize> Default for Secret<N> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        // Only the bytes in use were ever written (nothing shrinks a secret but `clear`, which
        // zeroizes first).
        self.clear();
    }
}

impl<const N: usize> PartialEq for Secret<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose())
    }
}

impl<const N: usize> Eq for Secret<N> {}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<const N: usize> fmt::Display for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for Secret<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Secret(***)")
    }
}

/// Stands in for a credential in a hand-written `Debug`: prints `***`.
pub(crate) struct Redacted;

/// `Debug` for a struct with one lifetime that borrows credentials: the fields before `;` are
/// printed, those after it show as `***`.
macro_rules! debug_redacted {
    ($ty:ident { $($field:ident),* ; $($secret:ident),+ }) => {
        impl core::fmt::Debug for $ty<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &$crate::secret::Redacted))+
                    .finish()
            }
        }
    };
}
pub(crate) use debug_redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn never_prints_itself() {
        let s = Secret::<32>::new("hunter2-very-secret", "password").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn capacity_is_an_error_not_truncation() {
        assert_eq!(
            Secret::<4>::new("12345", "f").unwrap_err(),
            Error::Capacity { field: "f" }
        );
        assert_eq!(Secret::<5>::new("12345", "f").unwrap().expose(), "12345");
    }

    #[test]
    fn constant_time_eq() {
        let s = Secret::<8>::new("abc", "x").unwrap();
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("ab"));
        assert!(!s.ct_eq("abcd"));
    }
}
