#pragma once

#include <string>
#include <vector>

namespace sesame::app {

// The command-line surface as one table (Postfix's smtpd_cmd_table shape):
// each command's synopsis, what it does, its options and an example, so
// `sesame help`, `sesame CMD --help` and the usage errors all read from the
// same rows. `args` bounds the positional arguments after the command word
// (and its subcommand, when it has subcommands). Pure data.
struct CommandHelp {
  std::string name;                      // "queue"
  std::vector<std::string> subcommands;  // {"list"}; empty: none
  std::string synopsis;                  // "queue list [--json] ..."
  std::string summary;
  std::string options;  // one option per line, "  --json  ..."
  std::string example;
  int min_args = 0, max_args = 0;  // -1: unbounded
  std::string default_sub;         // taken when none is given ("list")
};

const std::vector<CommandHelp>& Commands();
const CommandHelp* FindCommand(const std::string& name);

// The overview (`sesame help`) and one command's page.
std::string Overview();
std::string CommandPage(const CommandHelp& c);

// "" when `positional` (command word first) fits the command's row; else
// what is wrong ("unknown subcommand 'x'", "too many arguments").
std::string CheckArguments(const CommandHelp& c,
                           const std::vector<std::string>& positional);

// The release, for `sesame --version` and `sesame version`.
constexpr char kVersion[] = "0.2.0";

}  // namespace sesame::app
