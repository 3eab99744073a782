#!/bin/bash
# Run once by the influxdb:2 image after its first setup (/docker-entrypoint-initdb.d/):
# maps the v1 database `ioc`, which the wall reads and writes through the v1-compatible API
# (IOC_STORE=influxdb://influxdb:8086/ioc), to the bucket the setup created.
set -euo pipefail

influx v1 dbrp create \
    --org "${DOCKER_INFLUXDB_INIT_ORG}" \
    --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
    --db ioc \
    --rp autogen \
    --default
