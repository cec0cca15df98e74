#include "mailauth/public_suffix.h"

#include <fstream>
#include <iterator>
#include <vector>

#include "base/strings.h"

namespace sesame::mailauth {

PublicSuffixList PublicSuffixList::Parse(std::string_view text) {
  PublicSuffixList list;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    // A rule is the line's first word.
    size_t stop = line.find_first_of(" \t\r");
    if (stop != std::string_view::npos) line = line.substr(0, stop);
    if (line.empty() || line.rfind("//", 0) == 0) continue;
    std::string rule = AsciiLowerCopy(line);
    if (rule.rfind("!", 0) == 0) {
      list.exceptions_.insert(rule.substr(1));
    } else if (rule.rfind("*.", 0) == 0) {
      list.wildcards_.insert(rule.substr(2));
    } else {
      list.rules_.insert(rule);
    }
  }
  return list;
}

const PublicSuffixList& PublicSuffixList::System() {
  static const PublicSuffixList list = [] {
    std::ifstream f("/usr/share/publicsuffix/public_suffix_list.dat");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    return Parse(text);
  }();
  return list;
}

// The list's algorithm: an exception rule wins; otherwise the matching
// rule with the most labels, a wildcard matching one label of any value;
// otherwise "*". The public suffix is what the rule matched (an exception:
// less its first label), and the organizational domain one label more.
std::string PublicSuffixList::OrganizationalDomain(
    const std::string& domain) const {
  std::vector<size_t> starts{0};  // where each label begins
  for (size_t i = 0; i < domain.size(); ++i)
    if (domain[i] == '.') starts.push_back(i + 1);
  size_t labels = starts.size();
  size_t suffix_labels = 1;  // the default rule "*"
  for (size_t i = 0; i < labels; ++i) {
    std::string candidate = domain.substr(starts[i]);
    if (exceptions_.count(candidate)) {
      suffix_labels = labels - i - 1;
      break;
    }
    bool wild =
        i + 1 < labels && wildcards_.count(domain.substr(starts[i + 1]));
    if (rules_.count(candidate) || wild) {
      // The longest rule, unless an exception matches a shorter suffix.
      suffix_labels = labels - i;
      for (size_t j = i + 1; j < labels; ++j)
        if (exceptions_.count(domain.substr(starts[j])))
          suffix_labels = labels - j - 1;
      break;
    }
  }
  if (suffix_labels >= labels) return domain;
  return domain.substr(starts[labels - suffix_labels - 1]);
}

}  // namespace sesame::mailauth
