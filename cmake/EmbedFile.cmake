# Writes a C++ source defining `std::string_view NAME()` that returns the bytes of INPUT.
# Run as a script: cmake -DINPUT=... -DOUTPUT=... -DNAMESPACE=... -DNAME=... -P EmbedFile.cmake
file(READ "${INPUT}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT}; do not edit.\n#include <string_view>\nnamespace ${NAMESPACE} {\n"
  "static const char kBytes[] = {${bytes} 0};\n"
  "std::string_view ${NAME}() { return std::string_view(kBytes, sizeof kBytes - 1); }\n}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
