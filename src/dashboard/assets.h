#pragma once

#include <string_view>

namespace sesame::dashboard {

// A file of the dashboard, embedded at build time (assets_embed.cc.in).
struct Asset {
  std::string_view path, content_type, body;
};
extern const Asset kAssets[];
extern const int kAssetCount;

}  // namespace sesame::dashboard
