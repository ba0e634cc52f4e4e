//! Where uploaded artifact bytes live: a directory (under `./data` by default) or an
//! S3-compatible bucket, both through the `object_store` crate. Every key is
//! validated before use, so no key reaches outside the store; uploads stream in
//! parts and appear only when complete.

use crate::db::artifacts::validate_storage_key;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use model::AppError;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner)
    }
}

fn store_error(error: object_store::Error) -> AppError {
    match error {
        object_store::Error::NotFound { .. } => AppError::NotFound,
        error => {
            tracing::error!(%error, "artifact store error");
            AppError::Internal
        }
    }
}

impl Store {
    /// A directory on this machine, created if missing.
    pub fn local(root: impl AsRef<std::path::Path>) -> std::io::Result<Store> {
        std::fs::create_dir_all(root.as_ref())?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(root.as_ref())
            .map_err(std::io::Error::other)?;
        Ok(Store {
            inner: Arc::new(store),
        })
    }

    /// An S3-compatible bucket; credentials and region come from the usual AWS_*
    /// environment variables, `endpoint` points at a non-AWS service (MinIO, R2…).
    pub fn s3(bucket: &str, endpoint: Option<&str>) -> Result<Store, object_store::Error> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        Ok(Store {
            inner: Arc::new(builder.build()?),
        })
    }

    /// A store in memory (tests).
    pub fn in_memory() -> Store {
        Store {
            inner: Arc::new(object_store::memory::InMemory::new()),
        }
    }

    /// The key for a new upload: generated, never taken from the client.
    pub fn new_key(run_id: Uuid, artifact_id: Uuid) -> String {
        format!("runs/{run_id}/{artifact_id}")
    }

    fn path(key: &str) -> Result<Path, AppError> {
        validate_storage_key(key)?;
        Path::parse(key)
            .map_err(|_| AppError::invalid("storageKey", "storageKey is not a valid key"))
    }

    pub async fn begin_upload(&self, key: &str) -> Result<Upload, AppError> {
        let upload = self
            .inner
            .put_multipart(&Self::path(key)?)
            .await
            .map_err(store_error)?;
        Ok(Upload {
            writer: WriteMultipart::new(upload),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The stored bytes, as a stream.
    pub async fn open(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, AppError> {
        let object = self
            .inner
            .get(&Self::path(key)?)
            .await
            .map_err(store_error)?;
        Ok(object
            .into_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed())
    }

    /// Removes a stored object; one that is already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        match self.inner.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(store_error(error)),
        }
    }
}

/// An upload in progress: bytes are sent in parts and hashed as they come.
pub struct Upload {
    writer: WriteMultipart,
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
        // Back-pressure: wait while too many parts are in flight.
        self.writer
            .wait_for_capacity(8)
            .await
            .map_err(store_error)?;
        self.writer.write(chunk);
        Ok(())
    }

    /// Completes the upload; returns its size and SHA-256.
    pub async fn finish(self) -> Result<(u64, String), AppError> {
        self.writer.finish().await.map_err(store_error)?;
        Ok((self.size, crate::db::tokens::hex(&self.hasher.finalize())))
    }

    pub async fn abort(self) {
        if let Err(error) = self.writer.abort().await {
            tracing::warn!(%error, "could not abort an upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn round_trip(store: Store) {
        let key = "runs/r/a";
        let mut upload = store.begin_upload(key).await.unwrap();
        upload.write(b"hello ").await.unwrap();
        upload.write(b"world").await.unwrap();
        let (size, sha) = upload.finish().await.unwrap();
        assert_eq!(size, 11);
        assert_eq!(
            sha,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let mut stream = store.open(key).await.unwrap();
        let mut read = Vec::new();
        while let Some(chunk) = stream.next().await {
            read.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(read, b"hello world");
        store.delete(key).await.unwrap();
        assert!(matches!(store.open(key).await, Err(AppError::NotFound)));
        store.delete(key).await.unwrap();
    }

    #[tokio::test]
    async fn objects_round_trip_in_a_directory_and_in_a_bucket_like_store() {
        let dir = tempfile::tempdir().unwrap();
        round_trip(Store::local(dir.path()).unwrap()).await;
        round_trip(Store::in_memory()).await;
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_store() {
        let store = Store::in_memory();
        for key in ["../x", "/etc/passwd", "a/../../b"] {
            assert!(store.begin_upload(key).await.is_err(), "{key}");
            assert!(store.open(key).await.is_err(), "{key}");
        }
    }
}
