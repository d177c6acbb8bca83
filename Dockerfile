# syntax=docker/dockerfile:1
# Multi-stage build: compile with the Rust toolchain, run on a slim Debian
# as an unprivileged user. See docs/en/docker.md.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libsodium-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p surel \
 && strip target/release/surel

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tzdata libsodium23 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/surel --shell /usr/sbin/nologin surel \
 && install -d -o surel -g surel -m 0700 /var/lib/surel /etc/surel/certs
COPY --from=build /src/target/release/surel /usr/local/bin/surel
COPY config/docker.toml /etc/surel/surel.toml
COPY config/holidays.txt /etc/surel/holidays.txt
USER surel
WORKDIR /var/lib/surel
VOLUME ["/var/lib/surel", "/etc/surel/certs"]
# SMTP (MX), IMAP STARTTLS, submissions, submission, IMAPS, HTTPS.
# Docker lets unprivileged processes bind ports below 1024 inside the
# container (net.ipv4.ip_unprivileged_port_start=0 since Docker 20.10).
EXPOSE 25 143 465 587 993 443
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/surel", "--config", "/etc/surel/surel.toml"]
CMD ["serve"]
