# syntax=docker/dockerfile:1
# The coordinator's image: the Rust binary plus the built demo page on a slim Debian.
# Built by `docker compose build` (see compose.yaml and docs/compose.md).

# --- the service binary ---
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
# Cache mounts keep the crate registry and compiled dependencies between builds, so a
# source change recompiles only this crate. The binary is copied out because the target
# directory lives in the cache, not in the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin upload-coordinator \
    && cp target/release/upload-coordinator /usr/local/bin/upload-coordinator

# --- the demo page (web/ -> web/dist) ---
FROM node:22-bookworm-slim AS web
WORKDIR /web
# Manifest and lockfile first: the `npm ci` layer is reused until they change.
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci
COPY web/ ./
RUN npm run build

# --- runtime ---
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin coordinator
WORKDIR /app
COPY --from=build /usr/local/bin/upload-coordinator /usr/local/bin/upload-coordinator
COPY --from=web /web/dist /app/web/dist
# Inside a container the service must listen on every interface to be reachable at all;
# outside one it stays on 127.0.0.1 (the binary's default).
ENV UC_LISTEN=0.0.0.0:8080 \
    UC_WEB_DIR=/app/web/dist
USER coordinator
EXPOSE 8080
ENTRYPOINT ["upload-coordinator"]
CMD ["serve"]
