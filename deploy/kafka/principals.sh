#!/bin/bash
# One-shot (docker-compose.yml service `kafka-principals`): a SCRAM-SHA-512 user per role and
# the ACLs that are all each role may do. Run as the `admin` super user (static PLAIN login on
# the internal listener: it exists before any SCRAM user does). Passwords come from the secret
# files /run/secrets/kafka-<role>.password and are never printed. Idempotent: rerun to rotate.
#
#   role       may                                                      topics (prefix medassist)
#   platform   write events                                             events
#   finance    read instructions and reconciliation (groups finance-*)  instructions, reconciliation
#   worker     read events; write decisions, instructions, dead         events -> decisions,
#              letters, monitoring (group medassist-workers)            instructions, deadletters, monitoring
#   ledger     read instructions and funds, write funds (movements,     instructions, funds
#              interest) (group medassist-ledger)
#   monthend   read instructions, funds, monitoring, institution        instructions, funds, monitoring,
#              figures; write reconciliation (no group: assigns)        institution-figures -> reconciliation
#   whatif     read events; write its own shadow prefix whatif-*        events -> whatif-*
#              (groups whatif-*)
set -euo pipefail
P="${MEDASSIST_TOPIC_PREFIX:-medassist}"
BS="${KAFKA_BOOTSTRAP:-kafka:9092}"
CFG=/tmp/admin.properties
umask 077
cat > "$CFG" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$(cat /run/secrets/kafka-admin.password)";
PROPS
K=/opt/kafka/bin

for role in admin platform finance worker ledger monthend whatif; do  # admin: SCRAM too, for `topics`
  pw="$(cat "/run/secrets/kafka-${role}.password")"
  "$K/kafka-configs.sh" --bootstrap-server "$BS" --command-config "$CFG" --alter --entity-type users \
    --entity-name "$role" --add-config "SCRAM-SHA-512=[iterations=8192,password=${pw}]" >/dev/null
done

acl() { "$K/kafka-acls.sh" --bootstrap-server "$BS" --command-config "$CFG" --add --force "$@" >/dev/null; }
topic() { for t in "$@"; do printf -- '--topic %s ' "$P.$t"; done; }

acl --allow-principal User:platform --operation Write --operation Describe $(topic events)
acl --allow-principal User:finance --operation Read --operation Describe $(topic instructions reconciliation)
acl --allow-principal User:finance --operation Read --group finance- --resource-pattern-type prefixed
acl --allow-principal User:worker --operation Read --operation Describe $(topic events)
acl --allow-principal User:worker --operation Write --operation Describe $(topic decisions instructions deadletters monitoring)
acl --allow-principal User:worker --operation Read --group "$P-workers"
acl --allow-principal User:ledger --operation Read --operation Describe $(topic instructions funds)
acl --allow-principal User:ledger --operation Write $(topic funds)
acl --allow-principal User:ledger --operation Read --group "$P-ledger"
acl --allow-principal User:monthend --operation Read --operation Describe $(topic instructions funds monitoring institution-figures)
acl --allow-principal User:monthend --operation Write --operation Describe $(topic reconciliation)
acl --allow-principal User:whatif --operation Read --operation Describe $(topic events)
acl --allow-principal User:whatif --operation All --topic whatif- --resource-pattern-type prefixed
acl --allow-principal User:whatif --operation Read --group whatif- --resource-pattern-type prefixed
rm -f "$CFG"
echo "kafka principals and ACLs in place for prefix $P"
