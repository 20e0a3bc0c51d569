// Registers the views' resources (placeholder until the first view lands).
namespace moescope::views {
void init() {}
}  // namespace moescope::views
