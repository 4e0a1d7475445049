// Package privacy decides what of the dashboards' exact answers a viewer
// may see. Every count that leaves the database goes through a Policy:
//
//   - k: a count below the site's k is withheld: breakdown values are
//     folded into "(other)" (by the query, in the same scan), and totals,
//     series buckets, campaigns and "(other)" itself are marked BelowK with
//     their numbers zeroed. k counts visitors, or hits where no visitor is
//     recorded (anonymous mode; hit-only dimensions); email counts unique
//     opens, or opens where none is recorded.
//   - noise: every viewer but the admin (share links, API tokens) gets each
//     count plus a fixed seeded noise. Ranges are cut into canonical nodes
//     (dyadic blocks of whole local days, and parts of one day), and each
//     node of each counted thing (site, dimension, value, campaign) has one
//     Laplace draw from HMAC(key, thing, node), of standard deviation k/2.
//     Every answer is a sum of these fixed noisy nodes, so repeating a
//     question, or asking many ranges that differ by the same day, gives no
//     fresh noise to average: the most anyone can learn of one day of one
//     value is its count plus noise of standard deviation about k/2.
//
// Conversions (goals.go) are counted things like any other: a goal, a
// funnel step, a (goal, currency) revenue, each value under a goal. Revenue
// is withheld with its goal's conversions and below k conversions of its
// own; its amount is noised in units of its mean amount.
//
// The key lives in ClickHouse (Keys), one per installation. The admin's own
// view is exact (the admin can read the tables anyway) and still folded at
// the site's k unless the sites file sets min_count_k to 0. The README's
// privacy section states what this guarantees and what it does not.
package privacy
