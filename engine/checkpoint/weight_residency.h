// Where a checkpoint's bytes live while a model is loaded.
//
// Mapped:   the .safetensors files are mmap'ed read-only; pages come from the page cache when first used
//           and the kernel may drop them again under memory pressure. Needed for checkpoints near or above
//           the machine's memory; 4 KiB pages.
// Resident: the files are read once into anonymous memory backed by transparent huge pages (2 MiB). Decode
//           streams ~all active weights for every token; with 512x fewer TLB entries to walk it runs 10-25 %
//           faster on the machines we measured (docs/performance.md). Costs the read at load time and the
//           memory cannot be reclaimed while the model is open.
// Auto:     Resident when the checkpoint takes at most half of the memory available now (MemAvailable),
//           else Mapped. The environment variable MOESCOPE_WEIGHTS=mapped|resident|auto overrides Auto.
#pragma once
#include <cstdint>
#include <string>

namespace moescope {

enum class WeightResidency { Auto, Mapped, Resident };

const char* residency_name(WeightResidency r);  // "auto" | "mapped" | "resident"
// Parses "auto" | "mapped" | "resident"; false for anything else.
bool parse_residency(const std::string& s, WeightResidency& out);

// The Auto rule on its own (testable): Resident when checkpoint_bytes <= available_bytes / 2.
WeightResidency auto_residency(uint64_t checkpoint_bytes, uint64_t available_bytes);

// Auto resolved for this process and machine: MOESCOPE_WEIGHTS when set to mapped/resident, else the rule
// above with MemAvailable from /proc/meminfo (Mapped when that cannot be read). Mapped/Resident pass through.
// Throws Error for an unrecognised MOESCOPE_WEIGHTS value (names the variable and the value).
WeightResidency resolve_residency(WeightResidency requested, uint64_t checkpoint_bytes);

}  // namespace moescope
