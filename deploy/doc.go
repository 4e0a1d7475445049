// Package deploy holds the deployment files that are not Go: Caddy's TLS
// front (caddy/) and the cluster profile of docker-compose.yml (cluster/:
// the ClickHouse nodes' cluster config, ClickHouse Keeper's, nginx's). Its
// tests check them against each other and against docker-compose.yml as
// Debian's docker-compose reads it.
package deploy
