#include "app/cli_help.h"

#include <algorithm>

namespace sesame::app {

const std::vector<CommandHelp>& Commands() {
  static const std::vector<CommandHelp> kCommands = {
      {"serve",
       {},
       "serve [--config FILE]",
       "Run the server: the SMTP listeners, the HTTP API and dashboard, "
       "delivery and events. Without --config, the built-in local profile "
       "(loopback ports, ./var, capture mode).",
       "  --config FILE   the YAML configuration (see docs/production.md)\n",
       "sesame serve --config /etc/sesame/sesame.yaml",
       0,
       0,
       ""},
      {"queue",
       {"list"},
       "queue list [--json] [--config FILE | --data-dir DIR]",
       "Show the messages in the spool (queued for delivery, or held), with "
       "their recipients' states.",
       "  --json          one JSON array, for scripts\n"
       "  --config FILE   read data_dir from this configuration\n"
       "  --data-dir DIR  read this data directory\n",
       "sesame queue list --json --config /etc/sesame/sesame.yaml",
       0,
       0,
       ""},
      {"dlq",
       {"list", "show", "redrive", "purge"},
       "dlq list [--json]|show ID|redrive ID|--all|purge ID|--all [--config "
       "FILE]",
       "Inspect and manage the delivery dead-letter queue through the "
       "running server's admin API.",
       "  --json          list: the entries as one JSON array\n"
       "  --all           redrive or purge every entry\n"
       "  --config FILE   the server's configuration (admin token, port)\n",
       "sesame dlq redrive --all --config /etc/sesame/sesame.yaml",
       0,
       1,
       "list"},
      {"keys",
       {"create", "list", "delete", "show-dev", "rotate-master"},
       "keys create [--account ID [--user NAME]] | list | delete ID | "
       "show-dev | rotate-master [--prepare | --retire-previous] [--json]",
       "Manage API access keys (the secrets are sealed under the master "
       "key). create prints the secret and its SES SMTP password once; "
       "show-dev prints the local profile's development key again. "
       "rotate-master makes a new master key and seals every secret (access "
       "keys, DKIM keys) again under it while servers run; the previous key "
       "stays in the file until --retire-previous. On a cluster, --prepare "
       "first and copy the file to every node.",
       "  --account ID    a delegate account's key (sending only)\n"
       "  --user NAME     the key of an IAM user (of --account, or of this\n"
       "                  account: `sesame iam create-user` first)\n"
       "  --json          machine-readable output\n"
       "  --prepare       rotate-master: add the next key, unused yet\n"
       "  --retire-previous  rotate-master: re-seal, drop earlier keys\n",
       "sesame keys create --json --config /etc/sesame/sesame.yaml",
       0,
       1,
       "list"},
      {"iam",
       {"list-users", "create-user", "delete-user", "attach-user-policy",
        "detach-user-policy", "put-user-policy", "create-group",
        "add-user-to-group", "attach-group-policy", "simulate"},
       "iam list-users | create-user USER | delete-user USER | "
       "attach-user-policy USER ARN | detach-user-policy USER ARN | "
       "put-user-policy USER NAME JSON|@FILE | create-group GROUP | "
       "add-user-to-group GROUP USER | attach-group-policy GROUP ARN | "
       "simulate USER ACTION [RESOURCE] [--json]",
       "IAM users, groups and policies, offline, on the files the server "
       "reads (the IAM API does the same through aws iam or boto3). "
       "Bootstrap a first admin with create-user, attach-user-policy "
       "arn:aws:iam::aws:policy/AdministratorAccess and keys create --user.",
       "  --json          machine-readable output\n"
       "  --config FILE   the server's configuration (data_dir)\n",
       "sesame iam create-user admin --config /etc/sesame/sesame.yaml",
       0,
       3,
       "list-users"},
      {"identity",
       {"records"},
       "identity records DOMAIN [--json] [--config FILE]",
       "The DNS records a domain identity needs: verification, DKIM, SPF, "
       "DMARC and custom MAIL FROM.",
       "  --json          one JSON array of {name, type, value}\n",
       "sesame identity records example.com",
       1,
       1,
       ""},
      {"suppression",
       {"list", "add", "remove", "import", "export"},
       "suppression list|add ADDR [REASON]|remove ADDR|import FILE|export "
       "[FILE] [--json]",
       "The account-level suppression list (CSV or JSON lines).",
       "  --json          JSON lines instead of CSV\n"
       "  --config FILE   the data directory's configuration\n",
       "sesame suppression add bob@example.com BOUNCE",
       0,
       2,
       "list"},
      {"store",
       {"migrate", "import"},
       "store migrate|import [--config FILE] [--data-dir DIR]",
       "migrate: creates or upgrades the shared PostgreSQL store's schema "
       "(store: {backend: postgres, dsn}); a node's start does the same, "
       "and several at once migrate once, under an advisory lock. import: "
       "migrates, then copies a single node's state (DIR/state.db, its "
       "access keys and IAM files) into the shared store, which must be "
       "empty.",
       "  --config FILE   the configuration naming store.dsn\n"
       "  --data-dir DIR  import: the node's data directory (default: the "
       "configuration's)\n",
       "sesame store import --config /etc/sesame/cluster.yaml --data-dir "
       "/var/lib/sesame",
       0,
       0,
       ""},
      {"node",
       {"list", "status", "drain", "resume"},
       "node list [--json] | node status | node drain [--wait] | node resume",
       "The cluster's nodes. list: every node's heartbeat (version, queue "
       "depth, leader, throttle shares), from the shared store. status, "
       "drain, resume: this node (the --config's), through its admin API; a "
       "draining node refuses new sends transiently, fails /ready so the "
       "load balancer takes it out, and delivers its queue.",
       "  --json          list: one JSON array\n"
       "  --wait          drain: return once the queue is empty\n"
       "  --config FILE   the node's configuration\n",
       "sesame node drain --wait --config /etc/sesame/sesame.yaml",
       0,
       0,
       "list"},
      {"events",
       {"dlq"},
       "events dlq list|redrive [SUBSCRIPTION]",
       "The event subscriptions' dead-letter store.",
       "  --config FILE   the server's configuration\n",
       "sesame events dlq redrive",
       0,
       2,
       ""},
      {"bounce-parse",
       {},
       "bounce-parse FILE...",
       "Classify bounces, complaints and auto-replies; one JSON line per "
       "file.",
       "",
       "sesame bounce-parse message.eml",
       1,
       -1,
       ""},
      {"bounce-eval",
       {},
       "bounce-eval DIR LABELS [--all]",
       "The bounce classifier's accuracy on a labelled corpus.",
       "  --all           list every disagreement\n",
       "sesame bounce-eval corpus/ corpus/labels.tsv",
       2,
       2,
       ""},
      {"config",
       {"check"},
       "config check --config FILE",
       "Validate a configuration file; errors read file:line:col: key: "
       "reason.",
       "  --config FILE   the file to check\n",
       "sesame config check --config /etc/sesame/sesame.yaml",
       0,
       0,
       ""},
      {"api",
       {"operations"},
       "api operations",
       "The SES v1, SESv2 and SNS operations this build answers.",
       "",
       "sesame api operations",
       0,
       0,
       ""},
      {"version",
       {},
       "version",
       "Print the version (also: --version).",
       "",
       "sesame --version",
       0,
       0,
       ""},
      {"help",
       {},
       "help [COMMAND]",
       "This overview, or one command's options and an example (also: "
       "COMMAND --help).",
       "",
       "sesame help queue",
       0,
       1,
       ""},
  };
  return kCommands;
}

const CommandHelp* FindCommand(const std::string& name) {
  for (const auto& c : Commands())
    if (c.name == name) return &c;
  return nullptr;
}

std::string Overview() {
  std::string out = "usage: sesame <command> [options]\n\ncommands:\n";
  for (const auto& c : Commands()) {
    size_t stop = c.summary.find(". ");  // the first sentence
    out += "  " + c.synopsis + "\n      " +
           (stop == std::string::npos ? c.summary
                                      : c.summary.substr(0, stop + 1)) +
           "\n";
  }
  return out +
         "\n`sesame help COMMAND` or `sesame COMMAND --help` for one "
         "command's options and an example.\n";
}

std::string CommandPage(const CommandHelp& c) {
  std::string out = "usage: sesame " + c.synopsis + "\n\n" + c.summary + "\n";
  if (!c.options.empty()) out += "\noptions:\n" + c.options;
  out += "\nexample:\n  " + c.example + "\n";
  return out;
}

std::string CheckArguments(const CommandHelp& c,
                           const std::vector<std::string>& positional) {
  size_t first = 1;
  if (!c.subcommands.empty()) {
    if (positional.size() < 2)
      return c.default_sub.empty() ? "a subcommand is needed" : "";
    if (std::find(c.subcommands.begin(), c.subcommands.end(), positional[1]) ==
        c.subcommands.end())
      return "unknown subcommand '" + positional[1] + "'";
    first = 2;
  }
  int n = static_cast<int>(positional.size() - first);
  if (n < c.min_args) return "missing arguments";
  if (c.max_args >= 0 && n > c.max_args)
    return "too many arguments (unexpected '" +
           positional[first + static_cast<size_t>(c.max_args)] + "')";
  return "";
}

}  // namespace sesame::app
