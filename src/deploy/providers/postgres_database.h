// Drover::Database with Engine postgresql (see postgres_database.cpp): a managed server or an
// existing one. DatabaseProvider calls these for that engine.
#pragma once

#include "deploy/providers/provider.h"

namespace drover::deploy {

Status PostgresCreate(ResourceOp& op);
Status PostgresDelete(ResourceOp& op, bool retain);
Result<bool> PostgresRepair(ResourceOp& op);

}  // namespace drover::deploy
