# Debian package: `cpack --config build/release/CPackConfig.cmake -G DEB` (or `cmake --build ... --target package`).
set(CPACK_PACKAGE_NAME moescope)
set(CPACK_PACKAGE_VENDOR "MoEScope developers")
set(CPACK_PACKAGE_CONTACT "MoEScope developers <moescope@users.noreply.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Inspect Mixture-of-Experts routing token by token")
# One paragraph without line breaks: in a Debian control file a continuation line that starts with two
# spaces is shown verbatim, so the text wrapped here would come out ragged.
set(CPACK_PACKAGE_DESCRIPTION "MoEScope opens Hugging Face Mixture-of-Experts checkpoints (Mixtral, OLMoE, \
Qwen2-MoE, Qwen3-MoE, DeepSeek-V2, DeepSeek-V3, GLM-4.5, ERNIE 4.5, GPT-OSS), runs them in an embedded engine and shows what every router did: \
router logits, chosen experts, load against capacity, drift and specialization; routing strategies can be \
swapped and compared side by side, and everything exports as an HDF5 trace. A small demo checkpoint and \
prompt suites are included.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/moescope")
# Runtime libraries are found by dpkg-shlibdeps from the binary's NEEDED entries.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The desktop app needs a Qt platform plugin (xcb/wayland), which no NEEDED entry names.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "qt6-qpa-plugins")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

install(FILES ${CMAKE_CURRENT_LIST_DIR}/io.github.moescope.MoEScope.desktop DESTINATION share/applications)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/io.github.moescope.MoEScope.metainfo.xml DESTINATION share/metainfo)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/moescope.svg DESTINATION share/icons/hicolor/scalable/apps)
include(CPack)
