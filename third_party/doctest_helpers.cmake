# Registers every TEST_CASE of a doctest binary as its own ctest entry
# (doctest's doctest_discover_tests, as shipped by doctest-dev).
include(/usr/lib/cmake/doctest/doctest.cmake)
function(ll_discover_tests target)
  doctest_discover_tests(${target} TEST_PREFIX "${target}: " PROPERTIES TIMEOUT 300)
endfunction()
