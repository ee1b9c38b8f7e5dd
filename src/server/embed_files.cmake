# Writes a C++ source that holds files as byte arrays, for the web client
# compiled into the binary (server/static_files.h). Run at build time:
#   cmake -DOUT=<file.cc> -DFILES=<a|b|...> -P embed_files.cmake
# FILES is '|'-separated (a ';' list would be split by the build tool). Each
# file becomes an array with a trailing 0 byte, so an empty file is still a
# valid array; its size excludes that byte. Only CMake itself runs: no xxd.
if(NOT OUT OR NOT DEFINED FILES)
  message(FATAL_ERROR "embed_files.cmake: OUT and FILES are required")
endif()
string(REPLACE "|" ";" files "${FILES}")
list(SORT files)
set(arrays "")
set(table "")
set(i 0)
foreach(f IN LISTS files)
  get_filename_component(name "${f}" NAME)
  file(READ "${f}" hex HEX)
  # Two hex digits per byte; 16 bytes a line keeps the source readable
  # (CMake regexes have no {n}, so the line pattern is spelled out).
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
  string(APPEND arrays "const unsigned char kFile${i}[] = {\n    ${bytes}0x00};\n")
  string(APPEND table "    {\"${name}\", reinterpret_cast<const char*>(kFile${i}), sizeof(kFile${i}) - 1},\n")
  math(EXPR i "${i} + 1")
endforeach()
if(i EQUAL 0)
  message(FATAL_ERROR "embed_files.cmake: no files to embed")
endif()
set(content "// Generated at build time by src/server/embed_files.cmake from web/; do not edit.
#include <cstddef>

#include \"server/static_files.h\"

namespace longlink::server {

namespace {

${arrays}
}  // namespace

const EmbeddedFile kEmbeddedFiles[] = {
${table}};
const size_t kEmbeddedFileCount = ${i};

}  // namespace longlink::server
")
# Rewrite only on change, so an unchanged web/ does not recompile.
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
  if(old STREQUAL content)
    return()
  endif()
endif()
file(WRITE "${OUT}" "${content}")
