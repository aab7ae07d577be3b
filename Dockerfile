# imapsync-rs in a container, used as imapsync's official image is:
#   docker build -t imapsync-rs .
#   docker run --rm imapsync-rs imapsync --host1 ... --user1 ... --password1 ... \
#                                        --host2 ... --user2 ... --password2 ...
# Without arguments it prints the usage. The state store and logs go under /var/tmp (mount a
# volume there to keep them between runs: reruns then move only what changed).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p imapsync-cli

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/imapsync /usr/bin/imapsync
ENV XDG_STATE_HOME=/var/tmp/state HOME=/var/tmp
USER nobody:nogroup
WORKDIR /var/tmp/
CMD ["/usr/bin/imapsync"]
