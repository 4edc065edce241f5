#!/bin/sh
# minio-init (docker-compose.yml): the buckets, one MinIO user per LineSight service, and a policy per
# user that names only the buckets that service uses. Idempotent: it runs at every `docker compose up`,
# so a secret changed in .env reaches MinIO before the services restart with it.
#
# Environment: MC_HOST_store (the root credentials as an mc alias), LINESIGHT_S3_BUCKET_PREFIX and one
# S3_<SERVICE>_SECRET_KEY per service. tests/unit/test_compose.py checks the table at the bottom against
# the buckets each service's code opens and against the access keys in docker-compose.yml.
set -eu

alias=store
prefix="${LINESIGHT_S3_BUCKET_PREFIX:?}"
work="$(mktemp -d)"

for purpose in images models datasets; do
  mc mb --ignore-existing "$alias/$prefix-$purpose"
done

# Bucket-level actions (exists, list, multipart bookkeeping) on the bucket; object actions on its keys.
read_write() {
  printf '{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:ListBucket","s3:ListBucketMultipartUploads"],"Resource":["arn:aws:s3:::%s"]},' "$1"
  printf '{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::%s/*"]}' "$1"
}
read_only() {
  printf '{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:ListBucket"],"Resource":["arn:aws:s3:::%s"]},' "$1"
  printf '{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}' "$1"
}

# service_user NAME SECRET ACCESS... with ACCESS as rw:<purpose> or ro:<purpose>
service_user() {
  name="$1"
  secret="$2"
  shift 2
  statements=""
  for access in "$@"; do
    bucket="$prefix-${access#*:}"
    case "$access" in
      rw:*) statement="$(read_write "$bucket")" ;;
      ro:*) statement="$(read_only "$bucket")" ;;
      *) echo "minio-init: unknown access $access" >&2; exit 2 ;;
    esac
    statements="${statements:+$statements,}$statement"
  done
  printf '{"Version":"2012-10-17","Statement":[%s]}\n' "$statements" >"$work/$name.json"

  mc admin policy create "$alias" "$name" "$work/$name.json"
  # `user add` on an existing user sets its secret: this is how a rotated secret is applied.
  mc admin user add "$alias" "$name" "$secret"
  # Attaching a policy that is already attached is an error; whether it is attached is checked below.
  mc admin policy attach "$alias" "$name" --user "$name" >/dev/null 2>&1 || true
  # The mc image is minimal (no grep to count on): cut "policyName": "a,b" out with the shell alone.
  info="$(mc admin user info "$alias" "$name" --json)"
  policies="${info#*\"policyName\":}"
  policies="${policies#*\"}"
  policies="${policies%%\"*}"
  case ",$policies," in
    *",$name,"*) ;;
    *) echo "minio-init: policy $name is not attached to user $name (has: $policies)" >&2; exit 1 ;;
  esac
  echo "minio-init: user $name may use: $*"
}

# user                 secret                       buckets (rw: read and write, ro: read only)
service_user linesight-gateway "$S3_GATEWAY_SECRET_KEY" rw:images
service_user linesight-registry "$S3_REGISTRY_SECRET_KEY" rw:models rw:datasets
service_user linesight-inference "$S3_INFERENCE_SECRET_KEY" ro:models
service_user linesight-training "$S3_TRAINING_SECRET_KEY" rw:models

rm -rf "$work"
