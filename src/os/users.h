// Unix account lookups.
#pragma once

#include <string>

namespace drover::os {

// The name of `user`'s primary group on this machine; "" when the user or group is unknown.
std::string PrimaryGroupName(const std::string& user);

}  // namespace drover::os
