//! Where uploaded artifact bytes live: a directory (under `./data` by default).
//! Every key is validated before it becomes a path, so no key reaches outside
//! the store; uploads stream to a temporary file and appear only when complete.

use crate::db::artifacts::validate_storage_key;
use crate::error::AppError;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

fn io_error(error: std::io::Error) -> AppError {
    tracing::error!(%error, "artifact store error");
    AppError::Internal
}

impl Store {
    pub fn local(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The key for a new upload: generated, never taken from the client.
    pub fn new_key(run_id: Uuid, artifact_id: Uuid) -> String {
        format!("runs/{run_id}/{artifact_id}")
    }

    fn path(&self, key: &str) -> Result<PathBuf, AppError> {
        validate_storage_key(key)?;
        Ok(self.root.join(key))
    }

    pub async fn begin_upload(&self, key: &str) -> Result<Upload, AppError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        }
        let temp = path.with_extension(format!("part-{}", Uuid::new_v4()));
        let file = tokio::fs::File::create(&temp).await.map_err(io_error)?;
        Ok(Upload {
            temp,
            path,
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub async fn open(&self, key: &str) -> Result<tokio::fs::File, AppError> {
        match tokio::fs::File::open(self.path(key)?).await {
            Ok(file) => Ok(file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(AppError::NotFound),
            Err(error) => Err(io_error(error)),
        }
    }

    /// Removes a stored file; one that is already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io_error(error)),
            _ => Ok(()),
        }
    }
}

/// An upload in progress: bytes go to a temporary file, hashed as they come.
pub struct Upload {
    temp: PathBuf,
    path: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    size: u64,
}

impl Upload {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk).await.map_err(io_error)
    }

    /// Makes the file visible under its key; returns its size and SHA-256.
    pub async fn finish(mut self) -> Result<(u64, String), AppError> {
        self.file.flush().await.map_err(io_error)?;
        self.file.sync_all().await.map_err(io_error)?;
        tokio::fs::rename(&self.temp, &self.path)
            .await
            .map_err(io_error)?;
        Ok((self.size, crate::db::tokens::hex(&self.hasher.finalize())))
    }

    pub async fn abort(self) {
        drop(self.file);
        let _ = tokio::fs::remove_file(&self.temp).await;
    }
}
