// Invariant checks. LL_DCHECK is compiled only in debug builds; LL_CHECK
// aborts in every build and is for states where going on would corrupt data
// (Envoy's RELEASE_ASSERT, Redis' serverAssert). Never use either on peer
// input: bad input is expected and answered, not asserted (STYLE.md 5).
#pragma once

#include <cstdio>
#include <cstdlib>

#define LL_CHECK(cond)                                                            \
  do {                                                                            \
    if (__builtin_expect(!(cond), 0)) {                                           \
      std::fprintf(stderr, "FATAL %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                        \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

#ifdef NDEBUG
#define LL_DCHECK(cond) \
  do {                  \
  } while (0)
#else
#define LL_DCHECK(cond) LL_CHECK(cond)
#endif

#define LL_LIKELY(x) __builtin_expect(!!(x), 1)
#define LL_UNLIKELY(x) __builtin_expect(!!(x), 0)
