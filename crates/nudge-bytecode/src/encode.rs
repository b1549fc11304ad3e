//! Writing and reading modules: a fixed header, then a postcard body.
//!
//! Layout (little endian):
//! `b"NUDG"` · format version `u16` · compiler version (`u16` length + UTF-8)
//! · source hash `u64` · body length `u32` · body checksum `u64` · body.
//! The checksum catches corruption before postcard sees the bytes, so a
//! flipped bit is reported as such rather than as a confusing decode error.

use crate::hash::stable_hash;
use crate::module::{Header, Module};

/// The magic bytes every module starts with.
pub const MAGIC: [u8; 4] = *b"NUDG";

/// The body format this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 4;

/// Why a module could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The file does not start with `NUDG`.
    #[error("not a nudge module (it does not start with `NUDG`)")]
    BadMagic,
    /// The file ends early.
    #[error("the module is truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Written by a newer compiler.
    #[error("the module has format version {found}, this build reads up to {supported}; compile it again with this version or upgrade nudge")]
    NewerVersion {
        /// The module's format version.
        found: u16,
        /// The newest version this build reads.
        supported: u16,
        /// The compiler that wrote it.
        compiler: String,
    },
    /// The compiler version is not UTF-8.
    #[error("the module header is corrupted (compiler version is not text)")]
    BadHeader,
    /// The body does not match its checksum.
    #[error("the module is corrupted (checksum mismatch)")]
    Corrupted,
    /// The body passed the checksum but does not decode.
    #[error("the module body does not decode: {0}")]
    Decode(String),
    /// Extra bytes after the body.
    #[error("the module has {0} unexpected bytes after its body")]
    TrailingBytes(usize),
}

/// Why a module could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaveError {
    /// postcard refused the body.
    #[error("the module could not be encoded: {0}")]
    Encode(String),
    /// A length does not fit the header.
    #[error("the module is too large to encode")]
    TooLarge,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LoadError> {
        let end = self.at.saturating_add(n);
        match self.bytes.get(self.at..end) {
            Some(s) => {
                self.at = end;
                Ok(s)
            }
            None => Err(LoadError::Truncated {
                expected: end,
                found: self.bytes.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

impl Module {
    /// Encodes the module (header + postcard body).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SaveError> {
        let body = postcard::to_allocvec(self).map_err(|e| SaveError::Encode(e.to_string()))?;
        let version = self.compiler_version.as_bytes();
        let version_len = u16::try_from(version.len()).map_err(|_| SaveError::TooLarge)?;
        let body_len = u32::try_from(body.len()).map_err(|_| SaveError::TooLarge)?;
        let mut out = Vec::with_capacity(body.len() + 32 + version.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&version_len.to_le_bytes());
        out.extend_from_slice(version);
        out.extend_from_slice(&self.source_hash.to_le_bytes());
        out.extend_from_slice(&body_len.to_le_bytes());
        out.extend_from_slice(&stable_hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads just the header.
    pub fn read_header(bytes: &[u8]) -> Result<Header, LoadError> {
        let mut r = Reader { bytes, at: 0 };
        read_header(&mut r)
    }

    /// Decodes a module written by [`Module::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Module, LoadError> {
        let mut r = Reader { bytes, at: 0 };
        let header = read_header(&mut r)?;
        let body_len = u32::from_le_bytes(r.array()?) as usize;
        let checksum = u64::from_le_bytes(r.array()?);
        let body = r.take(body_len)?;
        if r.at != bytes.len() {
            return Err(LoadError::TrailingBytes(bytes.len() - r.at));
        }
        if stable_hash(body) != checksum {
            return Err(LoadError::Corrupted);
        }
        if header.format_version < 2 {
            // Format 1 ends before `arm_names`: an empty table (postcard
            // writes an empty sequence as one zero byte).
            let mut body = body.to_vec();
            body.push(0);
            return postcard::from_bytes(&body).map_err(|e| LoadError::Decode(e.to_string()));
        }
        postcard::from_bytes(body).map_err(|e| LoadError::Decode(e.to_string()))
    }

    /// The content hash of the encoded module: how a runtime stores
    /// versions (a running journey keeps the one it started with).
    pub fn content_hash(bytes: &[u8]) -> u64 {
        stable_hash(bytes)
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<Header, LoadError> {
    let magic: [u8; 4] = match r.array() {
        Ok(m) => m,
        Err(_) if !r.bytes.starts_with(&MAGIC[..r.bytes.len().min(4)]) => {
            return Err(LoadError::BadMagic)
        }
        Err(e) => return Err(e),
    };
    if magic != MAGIC {
        return Err(LoadError::BadMagic);
    }
    let format_version = u16::from_le_bytes(r.array()?);
    let version_len = u16::from_le_bytes(r.array()?) as usize;
    let compiler_version = std::str::from_utf8(r.take(version_len)?)
        .map_err(|_| LoadError::BadHeader)?
        .to_owned();
    if format_version > FORMAT_VERSION {
        return Err(LoadError::NewerVersion {
            found: format_version,
            supported: FORMAT_VERSION,
            compiler: compiler_version,
        });
    }
    let source_hash = u64::from_le_bytes(r.array()?);
    Ok(Header {
        format_version,
        compiler_version,
        source_hash,
    })
}
