"""How every public function reaches its op.

In plain eager code the call goes to ``aiter._C.eager_op``: one C call that
checks the argument types (a non-tensor is a TypeError naming the argument)
and runs the op's implementation without the dispatcher (well under a
microsecond of host time). While tracing (torch.compile), under dispatch
modes, with tensor subclasses, functorch, meta tensors or grad-requiring
inputs it answers NotImplemented and the registered ``torch.ops.aiter`` op
runs instead. Either way, errors name the public op and its argument names.
"""
import re
from functools import partial
from typing import Callable, Dict, Optional

import torch
from torch import Tensor

from .._backend import _C, ops

_eager = _C.eager_op
_compiling = torch.compiler.is_compiling
_ERRORS = (RuntimeError, ValueError, TypeError)
_OP_NAME = re.compile(r"aiter\.\w+:")  # how launcher and fake messages start


def _public_error(exc: Exception, public: str, arg_names: Optional[Dict[str, str]]) -> Exception:
    """The same exception, naming the public op (and the public argument
    names, where they differ from the schema's)."""
    msg = str(exc)
    if _OP_NAME.match(msg):
        msg = _OP_NAME.sub(f"aiter.{public}:", msg, count=1)
    else:
        msg = f"aiter.{public}: {msg}"
    for ours, theirs in (arg_names or {}).items():
        msg = msg.replace(f"'{ours}'", f"'{theirs}'")
    return type(exc)(msg)


def none_error(public: str, name: str) -> TypeError:
    """For a tensor the schema lets be None but the public op requires (the
    smooth-quant ops' xscale): the eager entry's message for a missing tensor."""
    return TypeError(f"aiter.{public}: argument '{name}' is None (an undefined tensor); expected a Tensor")


def _resolve(public: str, name: str, new_out: bool):
    """The eager entry bound to the op (a partial: the cheapest way to pass
    the leading arguments on each call), and the registered op."""
    return partial(_eager, f"aiter.{public}", _C.eager_kinds[name], new_out), getattr(ops, name).default


def writer(public: str, name: str, arg_names: Optional[Dict[str, str]] = None) -> Callable[..., None]:
    """How public op `public` runs registered op `name` on caller buffers:
    the returned function takes the op's arguments in schema order. (Built
    once per public op: the per-call work is only the call itself.)"""
    eager, fn = _resolve(public, name, False)

    def write(*args) -> None:
        try:
            if _compiling() or eager(*args) is NotImplemented:
                fn(*args)
        except _ERRORS as e:
            raise _public_error(e, public, arg_names) from None

    return write


def _empty_out(input, public: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"aiter.{public}: argument 'input' must be a Tensor, got {type(input).__name__}")
    if input.layout != torch.strided:
        raise ValueError(
            f"aiter.{public}: argument 'input' must be a strided (dense) tensor, got layout {input.layout} "
            f"(Sparse and other layouts are not read; shape {list(input.shape)}, dtype {input.dtype})"
        )
    if input.dim() == 0:
        raise ValueError(
            f"aiter.{public}: argument 'input' must have at least one dim (the normalised one), "
            f"got a 0-d tensor (dtype {input.dtype}, device {input.device})"
        )
    # Allocated outputs are contiguous with the input's shape (empty_like is
    # the cheapest allocation call from Python).
    return torch.empty_like(input, memory_format=torch.contiguous_format)


def allocator(public: str, name: str) -> Callable[..., Tensor]:
    """Like writer, for a registered op whose schema starts ``out, input``:
    the returned function takes the arguments after ``out`` and returns a new
    contiguous ``out`` like the input."""
    eager, fn = _resolve(public, name, True)

    def to_new(*args) -> Tensor:  # args: input, then the rest
        try:
            if not _compiling():
                y = eager(*args)
                if y is not NotImplemented:
                    return y
            out = _empty_out(args[0], public)
            fn(out, *args)
            return out
        except _ERRORS as e:
            raise _public_error(e, public, None) from None

    return to_new
