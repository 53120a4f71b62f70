// Finding a compute node's GPUs. NVIDIA GPUs are found with nvidia-smi; a fake detector that
// reports N made-up GPUs (`drover computenode --fake-gpus N`, or DROVER_FAKE_GPUS) is for testing
// GPU scheduling on machines without GPUs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"

namespace drover::agent {

class GpuDetector {
 public:
  virtual ~GpuDetector() = default;
  // The node's GPUs; empty when it has none (no driver is not an error).
  virtual Result<std::vector<protocol::GpuInfo>> Detect() = 0;
  virtual std::string Describe() const = 0;
};

// The fields Drover asks nvidia-smi for, in order.
inline constexpr std::string_view kNvidiaSmiQuery = "index,name,uuid,memory.total";

// Parses `nvidia-smi --query-gpu=<fields> --format=csv[,noheader][,nounits]`. `fields` names the
// columns when the output has no header; a header line ("index, uuid, name, memory.total [MiB]")
// names them itself. Units ("143771 MiB") are accepted. Errors name the line.
Result<std::vector<protocol::GpuInfo>> ParseNvidiaSmiCsv(std::string_view text, std::string_view fields = kNvidiaSmiQuery);

// Runs `nvidia_smi` (looked up in PATH when it has no '/'); no such program means no GPUs.
// Call before any task is started: the command is a child process of the agent.
std::unique_ptr<GpuDetector> MakeNvidiaSmiDetector(std::string nvidia_smi = "nvidia-smi");
// `count` GPUs named "Fake GPU", 16 GiB each, with stable made-up UUIDs.
std::unique_ptr<GpuDetector> MakeFakeGpuDetector(int count);

// The environment that gives a task exactly `gpus` (indexes as the driver numbers them):
// CUDA_VISIBLE_DEVICES, DROVER_GPUS, SLURM_JOB_GPUS, SLURM_STEP_GPUS, GPU_DEVICE_ORDINAL.
// With no GPUs, CUDA_VISIBLE_DEVICES is empty so the task sees none.
std::vector<std::pair<std::string, std::string>> GpuEnvironment(const std::vector<int>& gpus);

}  // namespace drover::agent
