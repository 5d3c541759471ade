"""Rewriting checked model code so that it runs on a budget (see engine.budget).

The whitelist check (engine.expressions) runs first, on the text as written. This module
then routes every loop and comprehension iterable, every size-changing operator, every
attribute, slice and f-string field, and every ``*``/``**`` unpacking through a guard
named ``_kasane_*``. The tree is at most ``max_depth`` levels deep by then, so the
recursive transformer here cannot overflow the stack.
"""
from __future__ import annotations

import ast

from engine import budget, safe_types

_BINARY = {ast.Add: "_kasane_add", ast.Sub: "_kasane_sub", ast.Mult: "_kasane_mul",
           ast.Pow: "_kasane_pow", ast.Mod: "_kasane_mod", ast.BitOr: "_kasane_or",
           ast.BitXor: "_kasane_xor"}
_INPLACE = {ast.Add: "_kasane_iadd", ast.Sub: "_kasane_isub", ast.Mult: "_kasane_imul",
            ast.Pow: "_kasane_ipow", ast.Mod: "_kasane_imod", ast.BitOr: "_kasane_ior",
            ast.BitXor: "_kasane_ixor"}


def depth(tree: ast.AST, stop: int) -> int:
    """Levels of the tree, counted without recursion; stops early once past ``stop``."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > stop:
                return deepest
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def is_slice_target(node) -> bool:
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice)


def _call(name: str, *args) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _none(node):
    return node if node is not None else ast.Constant(value=None)


def _slice_args(target):
    bounds = target.slice
    return [target.value, _none(bounds.lower), _none(bounds.upper), _none(bounds.step)]


def _parts(elts):
    """The elements of a display as iterables: ``*b`` gives b, ``a`` gives ``(a,)``."""
    return [e.value if isinstance(e, ast.Starred) else ast.Tuple(elts=[e], ctx=ast.Load())
            for e in elts]


class Instrument(ast.NodeTransformer):

    def _visit(self, node):
        return self.visit(node) if node is not None else None

    # loops

    def visit_For(self, node):
        self.generic_visit(node)
        node.iter = _call("_kasane_iter", node.iter)
        return node

    def visit_comprehension(self, node):
        self.generic_visit(node)
        node.iter = _call("_kasane_iter", node.iter)
        return node

    def _comprehension(self, node):
        self.generic_visit(node)
        return ast.copy_location(_call("_kasane_sized", node), node)

    visit_ListComp = visit_SetComp = visit_DictComp = _comprehension

    # operators and assignments

    def visit_BinOp(self, node):
        self.generic_visit(node)
        guard = _BINARY.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(_call(guard, node.left, node.right), node)

    def visit_AugAssign(self, node):
        guard = _INPLACE.get(type(node.op))
        target = node.target
        value = self.visit(node.value)
        if is_slice_target(target):
            args = [self.visit(a) for a in _slice_args(target)]
            current = _call("_kasane_slice", *args)
            if guard is None:
                new = ast.BinOp(left=current, op=node.op, right=value)
            else:
                new = _call(guard, current, value)
            return ast.copy_location(ast.Expr(value=_call("_kasane_setslice", *args, new)), node)
        if guard is None:
            node.target = self.visit(target)
            node.value = value
            return node
        if isinstance(target, ast.Name):
            load = ast.Name(id=target.id, ctx=ast.Load())
        else:  # a subscript; attributes are refused by the whitelist
            target = self.visit(target)
            load = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
        call = _call(guard, load, value)
        return ast.copy_location(ast.Assign(targets=[target], value=call), node)

    def visit_Assign(self, node):
        if len(node.targets) == 1 and is_slice_target(node.targets[0]):
            args = [self.visit(a) for a in _slice_args(node.targets[0])]
            call = _call("_kasane_setslice", *args, self.visit(node.value))
            return ast.copy_location(ast.Expr(value=call), node)
        self.generic_visit(node)
        return node

    # reading attributes and slices

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(_call("_kasane_attr", node.value, ast.Constant(value=node.attr)), node)

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Slice):
            return ast.copy_location(_call("_kasane_slice", *_slice_args(node)), node)
        return node

    # displays and calls with * and **

    def _display(self, node, kind):
        self.generic_visit(node)
        if isinstance(getattr(node, "ctx", ast.Load()), ast.Load) and any(
                isinstance(e, ast.Starred) for e in node.elts):
            return ast.copy_location(_call("_kasane_unpack", ast.Constant(value=kind),
                                           *_parts(node.elts)), node)
        return node

    def visit_List(self, node):
        return self._display(node, "list")

    def visit_Tuple(self, node):
        return self._display(node, "tuple")

    def visit_Set(self, node):
        return self._display(node, "set")

    def visit_Dict(self, node):
        self.generic_visit(node)
        if all(key is not None for key in node.keys):
            return node
        parts = [value if key is None else ast.Dict(keys=[key], values=[value])
                 for key, value in zip(node.keys, node.values)]
        return ast.copy_location(_call("_kasane_merge", *parts), node)

    def visit_Call(self, node):
        self.generic_visit(node)
        if any(isinstance(a, ast.Starred) for a in node.args):
            node.args = [ast.Starred(value=_call("_kasane_unpack", ast.Constant(value="tuple"),
                                                  *_parts(node.args)), ctx=ast.Load())]
        if any(k.arg is None for k in node.keywords):
            parts = [k.value if k.arg is None else
                     ast.Dict(keys=[ast.Constant(value=k.arg)], values=[k.value])
                     for k in node.keywords]
            node.keywords = [ast.keyword(arg=None, value=_call("_kasane_keywords", *parts))]
        return node

    # f-strings

    def visit_FormattedValue(self, node):
        self.generic_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant(value="")
        node.value = _call("_kasane_format", node.value, ast.Constant(value=node.conversion), spec)
        node.conversion = -1
        node.format_spec = None
        return node


def instrument(tree: ast.AST) -> ast.AST:
    return ast.fix_missing_locations(Instrument().visit(tree))


# The names the rewritten code calls, and what they are.
GUARDS = {
    "_kasane_iter": budget.iterate, "_kasane_sized": budget.sized,
    "_kasane_add": budget.add, "_kasane_iadd": budget.iadd,
    "_kasane_sub": budget.sub, "_kasane_isub": budget.isub,
    "_kasane_mul": budget.mul, "_kasane_imul": budget.imul,
    "_kasane_pow": budget.power, "_kasane_ipow": budget.ipow,
    "_kasane_mod": budget.mod, "_kasane_imod": budget.imod,
    "_kasane_or": budget.bitor, "_kasane_ior": budget.ibitor,
    "_kasane_xor": budget.bitxor, "_kasane_ixor": budget.ibitxor,
    "_kasane_attr": safe_types.attr,
    "_kasane_slice": budget.get_slice, "_kasane_setslice": budget.set_slice,
    "_kasane_unpack": budget.unpack, "_kasane_merge": budget.merge,
    "_kasane_keywords": budget.keywords, "_kasane_format": budget.format_value,
}
