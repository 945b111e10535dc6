"""A cache-line prefetch hint for the kernels: start fetching state the next few microseconds will read.

The decision layer reads each series' sequence counts
(:mod:`sentinel.detect.sequence`, 1 KB) at addresses that depend on the
values, a new cache line every few steps, and by then the line has long left
the cache: every such read waited for memory, one after the other, about a
tenth of the layer's time.  The batch pass knows which series comes next,
so it asks for all of that series' lines at once, before the work that
precedes their use; the memory system fetches them in parallel meanwhile.

``line(a, k)`` is LLVM's ``llvm.prefetch`` (read, keep in all levels) of
element ``k`` of the 1-d array ``a``: a hint, never a fault, no effect on any
value.  It is built on first use (a kernel that calls it compiles), so
importing this module costs nothing until then.
"""

from __future__ import annotations

from typing import Any

LINE_BYTES = 64


def _build() -> Any:
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def line(typingctx: Any, arr: Any, k: Any) -> Any:
        sig = types.void(arr, types.intp)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen

    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()  # built during a kernel's typing: register it with the context now
    return line


def __getattr__(name: str) -> Any:
    if name == "line":
        globals()["line"] = fn = _build()
        return fn
    raise AttributeError(name)
