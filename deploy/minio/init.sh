#!/bin/sh
# Create what Kho expects in a MinIO deployment: the bucket, one policy and one user per role.
# Safe to rerun. Run by the `init` service of compose.yaml, or by hand against production:
#   KHO_MINIO_URL=https://minio.internal:9000 MINIO_ROOT_USER=... MINIO_ROOT_PASSWORD=... \
#   KHO_INGEST_SECRET=... KHO_TRAIN_SECRET=... KHO_REVIEW_SECRET=... \
#   KHO_POLICIES=deploy/minio/policies sh deploy/minio/init.sh
set -eu
: "${MINIO_ROOT_USER:?set MINIO_ROOT_USER}" "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD}"
: "${KHO_INGEST_SECRET:?set KHO_INGEST_SECRET}" "${KHO_TRAIN_SECRET:?set KHO_TRAIN_SECRET}"
: "${KHO_REVIEW_SECRET:?set KHO_REVIEW_SECRET}"
url="${KHO_MINIO_URL:-http://minio1:9000}"
policies="${KHO_POLICIES:-/policies}"
bucket="${KHO_BUCKET:-kho}"

mc alias set kho "$url" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
# Versioning stays off (Kho's versions are manifests; every object is written once) and
# object lock stays off (gc must delete unreferenced shards).
mc mb --ignore-existing "kho/$bucket"

for role in ingest train review; do
  case "$role" in
    ingest) secret="$KHO_INGEST_SECRET" ;;
    train) secret="$KHO_TRAIN_SECRET" ;;
    review) secret="$KHO_REVIEW_SECRET" ;;
  esac
  # `policy create` replaces a policy of the same name, so an edited JSON takes effect on rerun.
  mc admin policy create kho "kho-$role" "$policies/kho-$role.json"
  mc admin user add kho "kho-$role" "$secret"
  mc admin policy attach kho "kho-$role" --user "kho-$role" 2>/dev/null \
    || echo "policy kho-$role already attached to user kho-$role"
done

# MinIO has no AbortIncompleteMultipartUpload lifecycle rule: it drops incomplete multipart
# uploads itself (api stale_uploads_expiry, set in compose.yaml / tenant.yaml). Show it.
mc admin config get kho api | tr ' ' '\n' | grep '^stale_uploads' || true
mc admin info kho
echo "ready: s3://$bucket/prod?endpoint=$url with users kho-ingest, kho-train, kho-review"
