"""The CoppeliaSim scene script against stand-ins of the sim and simROS2 Lua APIs that are as strict as they are.

CoppeliaSim itself is not available here, so this runs the script in a Lua 5.4 interpreter (``lupa``, the
Lua of CoppeliaSim 4.9) with stand-ins that record calls, and checks that it implements the same topic
contract as the embedded sim node: topic names and types, joint names, message fields, and the refusals.

The stand-ins model what the real implementations do, read from their sources (CoppeliaRobotics/simROS2
at tag coppeliasim-v4.9.0-rev6, and CoppeliaRobotics/coppeliaSimLib at the same tag):

- ``simROS2.publish`` and service responses go through ``rosRead``, a model of the reader simROS2
  generates for each message type (templates/callbacks.cpp lines 94-271, built from
  tools/parse_interfaces.py): the message must be a map or empty table ("expected a table", 98-100);
  every key a non-empty string ("malformed table (bad key type)", 112 and 257-260) naming a field of the
  type ("unexpected key: ", 248-253); int32/float32/float64 arrays a table of numbers only ("expected
  array", "fast_write_type reader exception #1", 121-146; the numeric check tolerates integers,
  coppeliaSimLib interfaceStackTable.cpp getTableInfo/areAllValuesThis); other arrays a table read item
  by item (198-229; a string where an array belongs is refused here, which simROS2 may not do: not
  modelled); nested messages recursively (232-245). Scalars as in src/ros_msg_builtin_io.cpp:
  bool must be a boolean (16-28), integers and floats any number (72-212, the stack converts between
  them: interfaceStack.cpp getStackInt32Value/getStackDoubleValue), and a string a *non-empty* string
  ("expected string", 214-228). Errors are wrapped "read__<type>: field <name>: ..." (139-144, 265-270).
  Fields left out are not required: they keep their default-constructed value.
- messages delivered to the script's callbacks carry every field, as simROS2's writer pushes them
  (callbacks.cpp lines 10-92, 278-298); a service callback's return value is read as the response
  (304-329).
- ``sim.getObjectsInTree`` walks the scene tree breadth first (coppeliaSimLib
  sourceCode/interfaces/simInternal.cpp, simGetObjectsInTree_internal, lines 8653-8713 at that tag: a
  queue, children appended at the back).
- ``sim.setJointPosition`` does nothing to a kinematic joint whose target motion is under way
  (simInternal.cpp lines 2936-2969, changed on 20.06.2024); a dynamic joint's position is written back
  by the physics engine after each step (sourceCode/sceneObjects/jointObject.cpp line 1765), so a
  position set from a script only sticks once the object's dynamics are reset and the engine rebuilds
  it from the scene (``sim.resetDynamicObject``, simInternal.cpp lines 5858-5885, with
  ``sim.handleflag_model`` for the whole model).
- the camera: a ``uint8[]`` field (an Image's data) is read as one non-empty string once the publisher was
  switched with ``simROS2.publisherTreatUInt8ArrayAsString``, else as a table of numbers, a string then
  being refused (callbacks.cpp lines 147-196; sim_ros2_interface.cpp publisherTreatUInt8ArrayAsString;
  coppeliaSimLib interfaceStack.cpp getStackTableInfo, lines 257-287); fixed-size arrays (CameraInfo's
  ``k``) must have their length, which simROS2 does not check (callbacks.cpp lines 132-137: stricter here).
  The vision sensor returns what coppeliaSimLib returns: ``sim.getVisionSensorImg`` 3 bytes a pixel and
  ``sim.getVisionSensorDepth`` float32, both rows bottom first as glReadPixels leaves them
  (sourceCode/sceneObjects/visionSensor.cpp lines 1128-1150, 250-340), depth normalized between the
  clipping planes unless options bit 0 asks for metres (interfaces/simInternal.cpp lines 7443-7493;
  luaScriptFunctions.cpp lines 3267-3444), as 4.7+ buffers (scripting/luaWrapper.cpp lines 463-472: a
  table whose ``__tostring`` gives the bytes).

Message field names and types come from the ROS 2 message classes themselves; the published camera
messages are built into real ``sensor_msgs`` messages and read back with the perception node's reader.
"""

import importlib
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from latent_nodes.config import DEFAULT_DOMAIN_MARGIN, CameraConfig, SimConfig
from latent_nodes.nodes import messages
from latent_nodes.perception.camera_geometry import rotation_to_rpy
from latent_nodes.sim import arm
from latent_nodes.sim.camera import camera_pose, intrinsics

lupa = pytest.importorskip("lupa.lua54", reason="pip install lupa to run the scene script in Lua")

SCRIPT = Path(__file__).resolve().parent.parent / "coppeliasim" / "latent_nodes_bridge.lua"

# The interfaces the bridge uses, and their service parts, as simROS2 names them.
MESSAGES = ["sensor_msgs/msg/JointState", "geometry_msgs/msg/PoseStamped", "rosgraph_msgs/msg/Clock",
            "sensor_msgs/msg/Image", "sensor_msgs/msg/CameraInfo"]
SERVICES = ["std_srvs/srv/Trigger"]
IDL = {"boolean": "bool", "double": "float64", "float": "float32", "octet": "byte"}


def _field_type(idl: str) -> str:
    """simROS2's field type from a rosidl type: float64, string, std_msgs/msg/Header, float64[], ..."""
    sequence = re.fullmatch(r"sequence<([^,>]+)(?:, \d+)?>", idl) or re.fullmatch(r"(.+)\[\d+\]", idl)
    if sequence:
        return _field_type(sequence.group(1)) + "[]"
    if idl.startswith("string"):
        return "string"
    if "/" in idl:
        pkg, name = idl.split("/")
        return f"{pkg}/msg/{name}"
    return IDL.get(idl, idl)


def _fixed_size(idl: str) -> int | None:
    """The length of a fixed-size array field (CameraInfo's k: double[9]), else None."""
    match = re.fullmatch(r".+\[(\d+)\]", idl)
    return int(match.group(1)) if match else None


def _schemas() -> dict[str, dict[str, str]]:
    """Field name -> field type for every message (and service part) the bridge sends or receives; the
    lengths of fixed-size array fields under the key ``"#sizes"`` of each type (field -> length).
    """
    out: dict[str, dict[str, str]] = {}

    def add(name: str, cls) -> None:
        idl = cls.get_fields_and_field_types()
        fields = {k: _field_type(v) for k, v in idl.items()}
        out[name] = fields
        sizes = {k: n for k, v in idl.items() if (n := _fixed_size(v)) is not None}
        if sizes:
            out.setdefault("#sizes", {})[name] = sizes
        for t in fields.values():
            t = t.removesuffix("[]")
            if "/" in t and t not in out:
                pkg, _, msg = t.split("/")
                add(t, getattr(importlib.import_module(f"{pkg}.msg"), msg))

    for name in MESSAGES:
        pkg, _, msg = name.split("/")
        add(name, getattr(importlib.import_module(f"{pkg}.msg"), msg))
    for name in SERVICES:
        pkg, _, srv = name.split("/")
        cls = getattr(importlib.import_module(f"{pkg}.srv"), srv)
        add(f"{name}/Request", cls.Request)
        add(f"{name}/Response", cls.Response)
    return out


ROS = r"""
-- simROS2's message reader and writer (see the module docstring for the sources and lines modelled).
local FAST = {int32 = true, float32 = true, float64 = true}  -- parse_interfaces.py fast_write_types
local INTEGER = {int8 = true, uint8 = true, int16 = true, uint16 = true, int32 = true, uint32 = true}
local DOUBLE = {int64 = true, uint64 = true, float64 = true}

local function shape(v)  -- what CoppeliaSim's stack makes of a Lua table: empty, array or map
  local n = 0
  for _ in pairs(v) do n = n + 1 end
  if n == 0 then return 'empty' end
  for i = 1, n do
    if v[i] == nil then return 'map' end
  end
  return 'array'
end

local function fail(text) error(text, 0) end

local readScalar
-- opt: the handle's options, {uint8array_as_string = true} after simROS2.publisherTreatUInt8ArrayAsString.
function rosRead(typename, value, opt)
  local where = 'read__' .. typename:gsub('/', '__') .. ': '
  local fields = rosSchemas[typename]
  if fields == nil then fail('unsupported type ' .. typename) end
  if type(value) ~= 'table' or shape(value) == 'array' then fail(where .. 'expected a table') end
  for key, v in pairs(value) do
    if type(key) ~= 'string' or key == '' then fail(where .. 'malformed table (bad key type)') end
    local ftype = fields[key]
    if ftype == nil then fail(where .. 'unexpected key: ' .. key) end
    local ok, err = pcall(function()
      local item = ftype:match('^(.*)%[%]$')
      if item == nil then return readScalar(ftype, v, opt) end
      local size = rosSchemas['#sizes'] and rosSchemas['#sizes'][typename] and rosSchemas['#sizes'][typename][key]
      if item == 'uint8' then  -- callbacks.cpp lines 147-196
        if opt and opt.uint8array_as_string then
          if type(v) ~= 'string' or #v == 0 then fail('string read error when trying to read uint8[]') end
          return
        end
        -- The stack's table info of a string is its length, but never "all numbers" (interfaceStack.cpp
        -- getStackTableInfo, lines 257-287): a string without the option is refused.
        if type(v) == 'string' then fail('fast_write_type uint8[] reader exception #1') end
        if type(v) ~= 'table' then fail('expected uint8 array') end
        for _, x in ipairs(v) do
          if type(x) ~= 'number' then fail('fast_write_type uint8[] reader exception #1') end
        end
        return
      end
      if type(v) ~= 'table' or shape(v) == 'map' then fail('expected array') end
      -- A fixed-size array (CameraInfo's k[9]) is read into the message's own array without a length
      -- check (callbacks.cpp lines 132-137): more items would be written past it, fewer leave zeros. Both
      -- are refused here, which simROS2 does not do.
      if size and #v ~= size then fail(string.format('fixed-size array of %d given %d items', size, #v)) end
      if FAST[item] then
        for _, x in ipairs(v) do
          if type(x) ~= 'number' then fail('fast_write_type reader exception #1') end
        end
      else
        for _, x in ipairs(v) do readScalar(item, x, opt) end
      end
    end)
    if not ok then fail(where .. 'field ' .. key .. ': ' .. err) end
  end
end

function readScalar(ftype, v, opt)
  if rosSchemas[ftype] then return rosRead(ftype, v, opt) end
  if ftype == 'bool' then
    if type(v) ~= 'boolean' then fail('expected bool') end
  elseif ftype == 'byte' or ftype == 'char' then
    if type(v) ~= 'number' then fail('expected bool') end  -- sic: ros_msg_builtin_io.cpp lines 30-70
  elseif INTEGER[ftype] then
    if type(v) ~= 'number' then fail('expected integer') end
  elseif DOUBLE[ftype] then
    if type(v) ~= 'number' then fail('expected double') end
  elseif ftype == 'float32' then
    if type(v) ~= 'number' then fail('expected float') end
  elseif ftype == 'string' then
    if type(v) ~= 'string' or #v == 0 then fail('expected string') end
  else
    fail('no reader for ' .. ftype)
  end
end

-- A complete message as simROS2's writer hands it to a callback: every field present, defaults where
-- ``values`` says nothing.
function rosMessage(typename, values)
  local out = {}
  for key, ftype in pairs(rosSchemas[typename]) do
    local given = values and values[key]
    if ftype:match('%[%]$') then
      out[key] = given or {}
    elseif rosSchemas[ftype] then
      out[key] = rosMessage(ftype, given)
    elseif given ~= nil then
      out[key] = given
    elseif ftype == 'string' then
      out[key] = ''
    elseif ftype == 'bool' then
      out[key] = false
    else
      out[key] = 0
    end
  end
  return out
end
"""

STUBS = r"""
calls = {published = {}, targets = {}, positions = {}, logs = {}, created = {}, resets = {}}
local objects = {}   -- handle -> {alias, path, parent, kind, children}
local byPath = {}

-- A scene tree: addObject(parentPath or nil, alias, kind, handle); kind 'joint' for joints.
function addObject(parentPath, alias, kind, handle)
  local parent = parentPath and byPath[parentPath]
  local path = (parentPath or '') .. '/' .. alias
  objects[handle] = {alias = alias, path = path, parent = parent, kind = kind, children = {},
                     pos = 0.0, engine = 0.0, target = 0.0, moving = false, mode = 'dynamic'}
  if parent then table.insert(objects[parent].children, handle) end
  byPath[path] = handle
  return handle
end

function setJointMode(handle, mode) objects[handle].mode = mode end
function jointPosition(handle) return objects[handle].pos end

-- One simulation step. Dynamic joints: the engine's state wins over positions set from a script unless
-- the joint's dynamics were reset, and the servo moves half way to the target. Kinematic joints: a target
-- motion advances 0.1 rad a step and ends at the target.
function step()
  for h, o in pairs(objects) do
    if o.kind == 'joint' then
      if o.mode == 'dynamic' then
        if o.reset then o.engine = o.pos; o.reset = false end
        o.pos = o.engine
        o.engine = o.engine + 0.5 * (o.target - o.engine)
      elseif o.moving then
        local d = o.target - o.pos
        o.pos = math.abs(d) <= 0.1 and o.target or o.pos + (d > 0 and 0.1 or -0.1)
        o.moving = o.pos ~= o.target
      end
    end
  end
end

sim = {
  verbosity_msgs = 1, verbosity_warnings = 2, verbosity_scriptinfos = 3, verbosity_errors = 4,
  object_joint_type = 1, handle_world = -1, handleflag_model = 0x00800000,
  getObject = function(path, opts) return byPath[path] or -1 end,
  -- simInternal.cpp simGetObjectsInTree_internal: breadth first, from a queue.
  getObjectsInTree = function(base, kind, opts)
    assert(kind == sim.object_joint_type and opts == 0)
    local out, queue = {}, {base}
    while #queue > 0 do
      local h = table.remove(queue, 1)
      for _, c in ipairs(objects[h].children) do table.insert(queue, c) end
      if objects[h].kind == 'joint' then table.insert(out, h) end
    end
    return out
  end,
  getObjectAlias = function(h, opts) return opts == 2 and objects[h].path or objects[h].alias end,
  addLog = function(level, text) table.insert(calls.logs, {level, text}) end,
  getSimulationTimeStep = function() return 0.01 end,
  getSimulationTime = function() return simTime end,
  setJointTargetPosition = function(h, q)
    calls.targets[h] = q
    objects[h].target = q
    objects[h].moving = objects[h].mode == 'kinematic'
  end,
  setJointPosition = function(h, q)
    if objects[h].mode == 'kinematic' and objects[h].moving then return end  -- 4.9: no effect
    objects[h].pos = q
  end,
  getJointPosition = function(h) return objects[h].pos end,
  getJointVelocity = function(h) return 0.0 end,
  getObjectPosition = function(h, rel) return blockPosition end,
  getObjectQuaternion = function(h, rel) return {0, 0, 0, 1} end,
  setObjectPosition = function(h, p, rel)
    blockPosition = p
    calls.positions[#calls.positions + 1] = {h, p, rel}
  end,
  setObjectQuaternion = function(h, q, rel) end,
  resetDynamicObject = function(h)
    table.insert(calls.resets, h)
    local model = h >= sim.handleflag_model
    local root = model and h - sim.handleflag_model or h
    local function mark(x)
      objects[x].reset = true
      if model then for _, c in ipairs(objects[x].children) do mark(c) end end
    end
    mark(root)
  end,
}
simTime = 0.0
blockPosition = {0.5, 0.0, 0.02}

-- CoppeliaSim 4.7+ buffers (useBuffers, on by default): a table with the buffer metatable whose
-- __tostring gives the bytes; string functions do not take it as it is (coppeliaSimLib
-- sourceCode/scripting/luaWrapper.cpp luaWrap_lua_pushbuffer; the Lua side wraps string.sub and a few
-- others, not table.concat or '..' with strings).
local buffmeta = {__tostring = function(self) return rawget(self, '__buff__') end,
                  __len = function(self) return #rawget(self, '__buff__') end,
                  __index = function(self, k) error('attempt to index a buffer value', 0) end}
function tobuffer(s) return setmetatable({__buff__ = s}, buffmeta) end

-- Vision sensors: addObject(..., 'visionsensor', handle), then setSensorImage(handle, rgb, depth) with the
-- rendered pixels as OpenGL leaves them (rows bottom first: 3 bytes a pixel, and float32 depth
-- normalized between the clipping planes, what visionSensor.cpp stores).
sensors = {}
function sensorOf(h)
  local s = sensors[h]
  if s == nil then
    s = {res = {256, 128}, angle = math.rad(60), perspective = 0, near = 0.01, far = 10.0, handled = 0,
         matrix = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}}
    sensors[h] = s
  end
  return s
end
function setSensorImage(h, rgb, depth) sensorOf(h).rgb = rgb; sensorOf(h).depth = depth end

sim.visionintparam_resolution_x = 1002
sim.visionintparam_resolution_y = 1003
sim.visionintparam_perspective_operation = 1018
sim.visionfloatparam_near_clipping = 1000
sim.visionfloatparam_far_clipping = 1001
sim.visionfloatparam_perspective_angle = 1004
local function sensorOnly(h)
  if objects[h] == nil or objects[h].kind ~= 'visionsensor' then error('object is not a vision sensor', 0) end
  return sensorOf(h)
end
function sim.setObjectInt32Param(h, p, v)
  local s = sensorOnly(h)
  if p == sim.visionintparam_resolution_x then s.res[1] = v
  elseif p == sim.visionintparam_resolution_y then s.res[2] = v
  elseif p == sim.visionintparam_perspective_operation then s.perspective = v
  else error('unknown parameter', 0) end
end
function sim.getObjectInt32Param(h, p)
  local s = sensorOnly(h)
  if p == sim.visionintparam_resolution_x then return s.res[1] end
  if p == sim.visionintparam_resolution_y then return s.res[2] end
  if p == sim.visionintparam_perspective_operation then return s.perspective end
  error('unknown parameter', 0)
end
function sim.setObjectFloatParam(h, p, v)
  local s = sensorOnly(h)
  if p == sim.visionfloatparam_perspective_angle then s.angle = v
  elseif p == sim.visionfloatparam_near_clipping then s.near = v
  elseif p == sim.visionfloatparam_far_clipping then s.far = v
  else error('unknown parameter', 0) end
end
function sim.getObjectFloatParam(h, p)
  local s = sensorOnly(h)
  if p == sim.visionfloatparam_perspective_angle then return s.angle end
  if p == sim.visionfloatparam_near_clipping then return s.near end
  if p == sim.visionfloatparam_far_clipping then return s.far end
  error('unknown parameter', 0)
end
-- Only relative to the table frame here (the bridge's only use); 12 numbers, row major [R | t].
function sim.setObjectMatrix(h, m, rel)
  assert(rel == 300, 'the camera is placed in the table frame')
  assert(#m == 12, 'a matrix is 12 numbers')
  local copy = {}
  for i = 1, 12 do copy[i] = m[i] end
  sensorOf(h).matrix = copy
end
function sim.getObjectMatrix(h, rel)
  assert(rel == 300, 'the camera is read in the table frame')
  return sensorOf(h).matrix
end
function sim.getVisionSensorRes(h) local s = sensorOnly(h); return {s.res[1], s.res[2]} end
function sim.handleVisionSensor(h) local s = sensorOnly(h); s.handled = s.handled + 1; return 0 end
-- luaScriptFunctions.cpp _simGetVisionSensorImg (lines 3267-3326): a buffer of 3 bytes a pixel (options 0)
-- and the resolution.
function sim.getVisionSensorImg(h, options)
  local s = sensorOnly(h)
  assert((options or 0) == 0, 'RGB without alpha')
  assert(#s.rgb == 3 * s.res[1] * s.res[2], 'stand-in image of the wrong size')
  return tobuffer(s.rgb), {s.res[1], s.res[2]}
end
-- _simGetVisionSensorDepth (lines 3397-3444) over simGetVisionSensorDepth_internal (simInternal.cpp lines
-- 7443-7493): float32 depth, normalized between the clipping planes, or n + (f - n) d with options bit 0.
function sim.getVisionSensorDepth(h, options)
  local s = sensorOnly(h)
  local n = s.res[1] * s.res[2]
  assert(#s.depth == 4 * n, 'stand-in depth of the wrong size')
  if (options or 0) & 1 == 0 then return tobuffer(s.depth), {s.res[1], s.res[2]} end
  local out = {}
  for i = 0, n - 1 do
    local d = string.unpack('=f', s.depth, 4 * i + 1)
    out[i + 1] = string.pack('=f', s.near + (s.far - s.near) * d)
  end
  return tobuffer(table.concat(out)), {s.res[1], s.res[2]}
end

-- The bytes of a (binary) string as hex, for Python (lupa decodes Lua strings as text).
function hexOf(s)
  return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end))
end

local publishers, subscriptions, services, publisherOptions = {}, {}, {}, {}
simROS2 = {
  createPublisher = function(topic, kind)
    assert(rosSchemas[kind], 'unsupported message type ' .. kind)
    table.insert(calls.created, {'pub', topic, kind})
    publishers[topic] = kind
    publisherOptions[topic] = {}
    return topic
  end,
  -- sim_ros2_interface.cpp publisherTreatUInt8ArrayAsString: rd_opt.uint8array_as_string = true.
  publisherTreatUInt8ArrayAsString = function(h)
    if publishers[h] == nil then error('invalid publisher handle', 0) end
    publisherOptions[h].uint8array_as_string = true
  end,
  createSubscription = function(topic, kind, cb)
    assert(rosSchemas[kind], 'unsupported message type ' .. kind)
    table.insert(calls.created, {'sub', topic, kind, cb})
    subscriptions[topic] = {kind, cb}
    return topic
  end,
  createService = function(name, kind, cb)
    assert(rosSchemas[kind .. '/Request'], 'unsupported service type ' .. kind)
    table.insert(calls.created, {'srv', name, kind, cb})
    services[name] = {kind, cb}
    return name
  end,
  publish = function(h, msg)
    local kind = publishers[h]
    if kind == nil then error('invalid publisher handle', 0) end
    rosRead(kind, msg, publisherOptions[h])
    table.insert(calls.published, {h, msg})
  end,
  -- lua/simROS2.lua: timeFromFloat(sim.getSimulationTime())
  getSimulationTime = function()
    local t = sim.getSimulationTime()
    return {sec = math.floor(t), nanosec = math.floor(1e9 * (t - math.floor(t)))}
  end,
  getTime = function() return {sec = 1, nanosec = 0} end,
  shutdownSubscription = function(h) end, shutdownPublisher = function(h) end, shutdownService = function(h) end,
}

-- simROS2 calling a subscription's callback (by global name) with a complete message.
function deliver(topic, values)
  local kind, cb = table.unpack(subscriptions[topic])
  if type(cb) == 'string' then cb = _G[cb] end
  cb(rosMessage(kind, values))
end

-- simROS2 calling a service: the request in, the callback's return value read as the response.
function callService(name, values)
  local kind, cb = table.unpack(services[name])
  if type(cb) == 'string' then cb = _G[cb] end
  local response = cb(rosMessage(kind .. '/Request', values))
  rosRead(kind .. '/Response', response)
  return response
end

package.preload['sim'] = function() return sim end
package.preload['simROS2'] = function() return simROS2 end
"""

# The scene: an arm of 7 joints in a chain, a gripper with two finger joints, the block and the table frame.
CHAIN = [f"joint{i}" for i in range(1, 8)]


def build_scene(lua, fingers=("fingerLeft", "fingerRight"), extra=()):
    """Arm joints get handles 11..17, then the fingers and ``extra`` (path under the gripper, alias) 18, 19, ...

    Returns the gripper's path. Links are shapes between the joints, as in CoppeliaSim's arm models.
    """
    add = lua.globals().addObject
    add(None, "LBRiiwa", "shape", 100)
    parent, handle = "/LBRiiwa", 11
    for k, name in enumerate(CHAIN):
        add(parent, name, "joint", handle)
        add(f"{parent}/{name}", "link", "shape", 1001 + k)
        parent, handle = f"{parent}/{name}/link", handle + 1
    gripper = parent + "/gripper"
    add(parent, "gripper", "shape", 150)
    for alias in fingers:
        add(gripper, alias, "joint", handle)
        handle += 1
    for path, alias in extra:
        add(gripper + path, alias, "joint", handle)
        handle += 1
    add(None, "Block", "shape", 200)
    add(None, "TableFrame", "dummy", 300)
    return gripper


def make_runtime(schemas):
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().rosSchemas = runtime.table_from(schemas, recursive=True)
    runtime.execute(ROS)
    runtime.execute(STUBS)
    return runtime


@pytest.fixture(scope="module")
def schemas():
    return _schemas()


@pytest.fixture()
def bare(schemas):
    """The stand-ins, without a scene or the script."""
    return make_runtime(schemas)


@pytest.fixture()
def lua(bare):
    build_scene(bare)
    bare.execute(SCRIPT.read_text())
    bare.globals().sysCall_init()
    return bare


def published(lua, topic):
    return [entry[2] for entry in lua.globals().calls.published.values() if entry[1] == topic]


def command(lua, names, positions):
    """/joint_command as simROS2 hands it to the script's callback."""
    lua.globals().deliver(messages.JOINT_COMMAND, lua.table_from({"name": lua.table_from(list(names)),
                                                                  "position": lua.table_from(list(positions))}))


def warnings(lua, text):
    return [entry[2] for entry in lua.globals().calls.logs.values() if text in entry[2]]


# --- the stand-ins are as strict as simROS2 --------------------------------------------------------------------

@pytest.mark.parametrize("message, error", [
    ("{header = {stamp = {sec = 1, nanosec = 0}, frame_id = ''}}",
     "read__sensor_msgs__msg__JointState: field header: read__std_msgs__msg__Header: field frame_id: expected string"),
    ("{name = {'arm_joint_1', ''}}", "field name: expected string"),
    ("{name = {'arm_joint_1', 2}}", "field name: expected string"),
    ("{nmae = {}}", "read__sensor_msgs__msg__JointState: unexpected key: nmae"),
    ("{position = {0.1, 'x'}}", "field position: fast_write_type reader exception #1"),
    ("{position = {a = 1.0}}", "field position: expected array"),
    ("{position = 0.5}", "field position: expected array"),
    ("{header = {stamp = {sec = 'now'}}}",
     "field stamp: read__builtin_interfaces__msg__Time: field sec: expected integer"),
    ("{header = 'table'}", "field header: read__std_msgs__msg__Header: expected a table"),
    ("{1, 2}", "read__sensor_msgs__msg__JointState: expected a table"),
    ("{[1] = 0.5, name = {}}", "malformed table (bad key type)"),
])
def test_publish_refuses_what_simros2_refuses(bare, message, error):
    g = bare.globals()
    pub = g.simROS2.createPublisher("/joint_states", "sensor_msgs/msg/JointState")
    with pytest.raises(lupa.LuaError, match=re.escape(error)):
        bare.eval(f"function(pub) simROS2.publish(pub, {message}) end")(pub)
    assert len(g.calls.published) == 0


def test_publish_accepts_omitted_fields_and_typed_values(bare):
    g = bare.globals()
    pub = g.simROS2.createPublisher("/joint_states", "sensor_msgs/msg/JointState")
    bare.eval("function(pub) simROS2.publish(pub, {}) end")(pub)  # every field keeps its default
    bare.eval("function(pub) simROS2.publish(pub, {header = {stamp = {sec = 3, nanosec = 5}, frame_id = 'x'}, "
              "name = {'a'}, position = {1, 0.5}, velocity = {}, effort = {0.0}}) end")(pub)
    assert len(g.calls.published) == 2


@pytest.mark.parametrize("response, error", [
    ("{success = 1}", "read__std_srvs__srv__Trigger__Response: field success: expected bool"),
    ("{success = true, message = ''}", "field message: expected string"),
    ("{success = true, ok = true}", "unexpected key: ok"),
])
def test_service_responses_are_read_as_strictly(bare, response, error):
    bare.globals().simROS2.createService("/s", "std_srvs/srv/Trigger", bare.eval(f"function(r) return {response} end"))
    with pytest.raises(lupa.LuaError, match=re.escape(error)):
        bare.globals().callService("/s", None)


# --- the script ---------------------------------------------------------------------------------------------

def test_contract_matches_the_embedded_sim(lua):
    created = {(c[1], c[2], c[3]) for c in lua.globals().calls.created.values()}
    assert created == {
        ("pub", messages.JOINT_STATES, "sensor_msgs/msg/JointState"),
        ("pub", messages.SIM_BLOCK_POSE, "geometry_msgs/msg/PoseStamped"),
        ("pub", "/clock", "rosgraph_msgs/msg/Clock"),
        ("sub", messages.JOINT_COMMAND, "sensor_msgs/msg/JointState"),
        ("sub", messages.SIM_SET_BLOCK, "geometry_msgs/msg/PoseStamped"),
        ("srv", "/sim/reset", "std_srvs/srv/Trigger"),
    }
    assert list(lua.globals().config.jointNames.values()) == list(arm.JOINT_NAMES)
    assert len(lua.globals().config.home) == len(arm.JOINT_NAMES)
    # The bridge states the same trained region and margin as the model and the inference node.
    sim_cfg = SimConfig()
    assert list(lua.globals().config.workspaceX.values()) == sim_cfg.workspace_x
    assert list(lua.globals().config.workspaceY.values()) == sim_cfg.workspace_y
    assert lua.globals().config.domainMargin == DEFAULT_DOMAIN_MARGIN


def test_every_step_publishes_joint_states_block_pose_and_clock(lua):
    g = lua.globals()
    for k in range(25):  # 0.25 s at 10 ms: every step, whatever simROS2 would refuse raises here
        g.simTime = 0.01 * k
        g.sysCall_sensing()
    states = published(lua, messages.JOINT_STATES)
    assert len(states) == 25 and len(published(lua, "/clock")) == 25
    assert list(states[-1].name.values()) == list(arm.JOINT_NAMES) and len(states[-1].position) == 9
    assert states[-1].header.frame_id is None and states[-1].effort is None  # left to their defaults
    assert states[-1].header.stamp.sec == 0 and states[-1].header.stamp.nanosec == pytest.approx(0.24e9, abs=2)
    poses = published(lua, messages.SIM_BLOCK_POSE)
    assert len(poses) == 3  # 10 Hz: at 0, 0.1 and 0.2 s
    assert poses[-1].header.frame_id == "table" and poses[-1].pose.position.x == 0.5
    assert poses[-1].pose.orientation.w == 1


def test_an_empty_frame_id_is_left_out_not_sent(bare):
    build_scene(bare)
    bare.execute("latentNodesConfig = {frameId = ''}")
    bare.execute(SCRIPT.read_text())
    g = bare.globals()
    g.sysCall_init()
    g.sysCall_sensing()  # would raise "expected string" with frame_id = ''
    assert published(bare, messages.SIM_BLOCK_POSE)[-1].header.frame_id is None


def test_commands_set_joint_targets_and_bad_ones_are_ignored(lua):
    g = lua.globals()
    names = list(g.config.jointNames.values())
    command(lua, names, [0.1 * i for i in range(9)])
    assert [g.calls.targets[11 + i] for i in range(9)] == pytest.approx([0.1 * i for i in range(9)])
    before = dict(g.calls.targets)
    command(lua, names[:8] + ["other"], [9.0] * 9)
    command(lua, names, [float("nan")] + [9.0] * 8)
    command(lua, names, [0.0] * 8)
    assert dict(g.calls.targets) == before
    assert len(warnings(lua, "ignoring /joint_command")) == 3


def test_block_moves_only_onto_the_table_in_its_frame(lua):
    g = lua.globals()

    def set_block(frame, x, y):
        g.deliver(messages.SIM_SET_BLOCK, lua.table_from({
            "header": lua.table_from({"frame_id": frame}),
            "pose": lua.table_from({"position": lua.table_from({"x": x, "y": y})})}))

    set_block("table", 0.45, 0.1)
    set_block("", 0.46, 0.1)  # no frame (the default): the table frame
    set_block("table", 2.0, 0.0)
    set_block("camera", 0.45, 0.1)
    set_block("table", float("nan"), 0.0)
    moves = list(g.calls.positions.values())
    assert len(moves) == 2 and list(moves[0][2].values()) == pytest.approx([0.45, 0.1, 0.02])
    assert moves[0][3] == 300  # relative to the table frame
    assert published(lua, messages.SIM_BLOCK_POSE)[-1].pose.position.x == pytest.approx(0.46)
    assert len(warnings(lua, "ignoring /sim/set_block")) == 3


@pytest.mark.parametrize("x, y, outside", [(0.70, 0.0, 0.10), (0.45, -0.30, 0.10), (0.62, 0.23, 0.036)])
def test_a_block_outside_the_trained_region_is_placed_with_a_warning(lua, x, y, outside):
    g = lua.globals()
    g.deliver(messages.SIM_SET_BLOCK, lua.table_from({
        "header": lua.table_from({"frame_id": "table"}),
        "pose": lua.table_from({"position": lua.table_from({"x": x, "y": y})})}))
    assert list(list(g.calls.positions.values())[-1][2].values())[:2] == pytest.approx([x, y])
    (warning,) = warnings(lua, "outside the trained region")
    assert f"is {outside:.3f} m outside the trained region (x 0.350-0.600, y -0.200-0.200 m" in warning


def test_a_block_within_the_margin_is_placed_quietly(lua):
    lua.globals().deliver(messages.SIM_SET_BLOCK, lua.table_from({
        "header": lua.table_from({"frame_id": "table"}),
        "pose": lua.table_from({"position": lua.table_from({"x": 0.615, "y": 0.0})})}))
    assert warnings(lua, "outside the trained region") == []


def move_away_and_reset(lua, mode):
    g = lua.globals()
    for i in range(9):
        g.setJointMode(11 + i, mode)
        g.sim.setJointPosition(11 + i, arm.HOME[i])
    command(lua, g.config.jointNames.values(), [0.3] * 9)
    for _ in range(3):
        g.step()  # on the way to the targets, away from home
    assert g.jointPosition(14) != pytest.approx(arm.HOME[3], abs=0.1)
    response = g.callService("/sim/reset", None)
    assert response.success and response.message == "arm at home"
    assert [g.calls.targets[11 + i] for i in range(9)] == pytest.approx(list(arm.HOME), abs=1e-4)
    return g


def test_reset_teleports_dynamic_joints_home(lua):
    assert list(lua.globals().config.home.values()) == pytest.approx(arm.HOME, abs=1e-4)
    g = move_away_and_reset(lua, "dynamic")
    g.step()
    assert [g.jointPosition(11 + i) for i in range(9)] == pytest.approx(list(arm.HOME), abs=1e-4)
    assert list(g.calls.resets.values()) == [100 + g.sim.handleflag_model]  # the whole arm model, once


def test_reset_brings_kinematic_joints_home_under_their_target(lua):
    g = move_away_and_reset(lua, "kinematic")
    g.step()
    assert g.jointPosition(14) != pytest.approx(arm.HOME[3], abs=0.05), "a moving kinematic joint does not jump"
    for _ in range(30):
        g.step()
    assert [g.jointPosition(11 + i) for i in range(9)] == pytest.approx(list(arm.HOME), abs=1e-4)


def test_signs_and_offsets_map_other_arms(lua):
    g = lua.globals()
    g.config.jointSigns[4] = -1
    g.config.jointOffsets[2] = 0.5
    command(lua, g.config.jointNames.values(), [0.1] * 9)
    assert g.calls.targets[14] == pytest.approx(-0.1) and g.calls.targets[12] == pytest.approx(0.6)
    g.sysCall_sensing()
    state = published(lua, messages.JOINT_STATES)[-1]
    assert list(state.position.values())[1] == pytest.approx(-0.5)  # scene joint at 0 is contract -offset


# --- finding the joints -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fingers, extra, found", [
    (("fingerLeft", "fingerRight"), [("/fingerLeft", "fingerLeftTip"), ("/fingerRight", "fingerRightTip")], 11),
    ((), [], 7),
    (("fingerLeft",), [], 8),
])
def test_a_wrong_joint_count_stops_the_script_with_the_fix(bare, fingers, extra, found):
    build_scene(bare, fingers=fingers, extra=extra)
    bare.execute(SCRIPT.read_text())
    with pytest.raises(lupa.LuaError, match=rf"found {found} joints under /LBRiiwa, the contract has 9 .*jointPaths"):
        bare.globals().sysCall_init()
    assert len(bare.globals().calls.created) == 0, "nothing is created for a scene that does not fit"


def test_joints_are_taken_breadth_first(bare):
    # The left finger hangs one level deeper than the right one (under a mount): breadth first puts the
    # right finger before the left, so the log shows finger_joint_left <- .../fingerRight.
    gripper = build_scene(bare, fingers=("fingerRight",))
    bare.globals().addObject(gripper, "mount", "shape", 160)
    bare.globals().addObject(gripper + "/mount", "fingerLeft", "joint", 19)
    bare.execute(SCRIPT.read_text())
    bare.globals().sysCall_init()
    mapping = [m for m in (e[2] for e in bare.globals().calls.logs.values()) if " <- " in m]
    assert [m.split(": ", 1)[1].split(" <- ")[0] for m in mapping] == list(arm.JOINT_NAMES)
    assert mapping[7].endswith("/gripper/fingerRight") and mapping[8].endswith("/gripper/mount/fingerLeft")


def test_joint_paths_name_each_joint(bare):
    gripper = build_scene(bare, extra=[("/fingerLeft", "fingerLeftTip"), ("/fingerRight", "fingerRightTip")])
    chain = "/LBRiiwa"
    paths = []
    for name in CHAIN:
        paths.append(f"{chain}/{name}")
        chain = f"{chain}/{name}/link"
    paths += [gripper + "/fingerLeft", gripper + "/fingerRight"]
    bare.execute("latentNodesConfig = {jointPaths = {" + ", ".join(f"'{p}'" for p in paths) + "}}")
    bare.execute(SCRIPT.read_text())
    g = bare.globals()
    g.sysCall_init()
    assert list(g.joints.values()) == [g.sim.getObject(p) for p in paths]
    bare.execute("latentNodesConfig.jointPaths[9] = '/LBRiiwa/nothing'")
    with pytest.raises(lupa.LuaError, match="no object at /LBRiiwa/nothing"):
        g.sysCall_init()


# --- the RGB-D camera ---------------------------------------------------------------------------------------

CAMERA = 400  # the vision sensor's handle in the stand-in scene
CAMERA_TOPICS = {"/camera/color/image_raw": "sensor_msgs/msg/Image",
                 "/camera/color/camera_info": "sensor_msgs/msg/CameraInfo",
                 "/camera/depth/image_raw": "sensor_msgs/msg/Image",
                 "/camera/depth/camera_info": "sensor_msgs/msg/CameraInfo"}


def camera_runtime(schemas, settings: str):
    """A scene with a vision sensor at /Camera and the script started with ``settings`` (Lua table fields)."""
    lua = make_runtime(schemas)
    build_scene(lua)
    lua.globals().addObject(None, "Camera", "visionsensor", CAMERA)
    lua.execute("latentNodesConfig = {" + settings + "}")
    lua.execute(SCRIPT.read_text())
    lua.globals().sysCall_init()
    return lua


def render(lua, rgb: np.ndarray, z: np.ndarray) -> None:
    """Give the stand-in sensor a frame as OpenGL leaves it: rows bottom first, depth normalized between the
    clipping planes the script set. ``rgb`` [H, W, 3] and ``z`` [H, W] metres are top row first.
    """
    sensor = lua.globals().sensorOf(CAMERA)
    near, far = sensor.near, sensor.far
    normalized = ((z - near) / (far - near)).astype("=f4")
    lua.globals().setSensorImage(CAMERA, np.ascontiguousarray(rgb[::-1]).tobytes(),
                                 np.ascontiguousarray(normalized[::-1]).tobytes())


def to_ros(lua, cls, table):
    """The real ROS 2 message a published table becomes (binary fields through hex: lupa decodes strings)."""
    msg = cls()
    for key in list(table.keys()):
        current = getattr(msg, key)
        if key == "data":  # read in Lua: lupa would decode the value as text
            setattr(msg, key, bytes.fromhex(lua.eval("function(t) return hexOf(t.data) end")(table)))
            continue
        value = table[key]
        if lupa.lua_type(value) == "table" and hasattr(current, "get_fields_and_field_types"):
            setattr(msg, key, to_ros(lua, type(current), value))
        elif lupa.lua_type(value) == "table":
            setattr(msg, key, list(value.values()))
        else:
            setattr(msg, key, value)
    return msg


def synthetic_frame(width: int, height: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random colours (no two rows alike, so a flip shows) and depth between 0.3 and 2.0 m."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    z = rng.uniform(0.3, 2.0, size=(height, width)).astype(np.float32)
    return rgb, z


@pytest.mark.parametrize("width, height, fovy", [(640, 480, 42.0), (320, 240, 42.0), (64, 48, 60.0),
                                                 (480, 640, 50.0), (300, 300, 42.0)])
def test_the_view_angle_gives_the_embedded_cameras_intrinsics(bare, width, height, fovy):
    # CoppeliaSim's angle is the longer side's field of view: for 640 x 480 at 42 degrees vertical it is the
    # horizontal 54.2 degrees; K from it must be the embedded camera's for the same configuration.
    bare.execute(SCRIPT.read_text())
    g = bare.globals()
    angle = g.viewAngleFromFovy(fovy, width, height)
    expected_angle = 2 * math.atan(math.tan(math.radians(fovy) / 2) * max(width / height, 1.0))
    assert angle == pytest.approx(expected_angle, rel=1e-12)
    k = np.array(list(g.cameraK(angle, width, height).values())).reshape(3, 3)
    np.testing.assert_allclose(k, intrinsics(CameraConfig(width=width, height=height, fovy=fovy)), rtol=1e-12)


def test_camera_at_the_embedded_mount_publishes_what_the_perception_reads(schemas):
    lua = camera_runtime(schemas, "cameraRate = 2")
    g = lua.globals()
    created = {(c[1], c[2], c[3]) for c in g.calls.created.values()}
    assert {("pub", topic, kind) for topic, kind in CAMERA_TOPICS.items()} <= created
    cfg = CameraConfig()
    sensor = g.sensorOf(CAMERA)
    assert (sensor.res[1], sensor.res[2]) == (cfg.width, cfg.height) and sensor.perspective == 1
    assert math.degrees(sensor.angle) == pytest.approx(54.2084, abs=1e-4)  # the horizontal field of view
    # The sensor's axes: x to the image's left, y up, z forward, i.e. the optical frame turned about z.
    m = np.array(list(sensor.matrix.values())).reshape(3, 4)
    pose = camera_pose(cfg)
    np.testing.assert_allclose(m[:, :3], pose.rotation @ np.diag([-1.0, -1.0, 1.0]), atol=1e-12)
    np.testing.assert_allclose(m[:, 3], pose.position, atol=1e-12)
    # The start-up line gives the optical frame as the perception node's perception_camera_pose.
    (line,) = [e[2] for e in g.calls.logs.values() if "perception_camera_pose" in e[2]]
    logged = [float(v) for v in line.split("perception_camera_pose [")[1].rstrip("]").split(", ")]
    np.testing.assert_allclose(logged, [*pose.position, *rotation_to_rpy(pose.rotation)], atol=1e-4)

    render(lua, np.zeros((cfg.height, cfg.width, 3), np.uint8), np.ones((cfg.height, cfg.width), np.float32))
    g.simTime = 1.5
    g.sysCall_sensing()
    info = to_ros(lua, CameraInfo, published(lua, "/camera/color/camera_info")[-1])
    k, width, height = messages.camera_intrinsics(info)
    assert (width, height) == (cfg.width, cfg.height) and info.distortion_model == "plumb_bob"
    np.testing.assert_allclose(k, intrinsics(cfg), rtol=1e-12)
    reference = messages.camera_info(intrinsics(cfg), cfg.width, cfg.height, cfg.frame_id)
    for field in ("d", "r", "p"):
        np.testing.assert_allclose(getattr(info, field), getattr(reference, field), rtol=1e-12, err_msg=field)
    assert info.header.frame_id == cfg.frame_id and (info.header.stamp.sec, info.header.stamp.nanosec) == (1, 5e8)
    assert published(lua, "/camera/depth/camera_info")[-1].k[1] == info.k[0]


def test_images_come_top_row_first_and_depth_in_metres(schemas):
    lua = camera_runtime(schemas, "cameraRate = 2, cameraWidth = 64, cameraHeight = 48")
    g = lua.globals()
    rgb, z = synthetic_frame(64, 48)
    render(lua, rgb, z)
    g.simTime = 0.25
    g.sysCall_sensing()
    (color,) = published(lua, "/camera/color/image_raw")
    (depth,) = published(lua, "/camera/depth/image_raw")
    color_msg, depth_msg = to_ros(lua, Image, color), to_ros(lua, Image, depth)
    assert (color_msg.encoding, color_msg.step, color_msg.is_bigendian) == ("rgb8", 64 * 3, 0)
    assert (depth_msg.encoding, depth_msg.step) == ("32FC1", 64 * 4)
    assert depth_msg.is_bigendian == (sys.byteorder == "big")
    # Read back as the perception node reads images: the same pixels, top row first.
    np.testing.assert_array_equal(messages.image_array(color_msg), rgb)
    np.testing.assert_allclose(messages.image_array(depth_msg, ("32FC1",)), z, atol=1e-5)  # float32 round trips
    state = published(lua, messages.JOINT_STATES)[-1]
    for msg in (color_msg, depth_msg):
        assert msg.header.frame_id == "camera_color_optical_frame"
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (state.header.stamp.sec, state.header.stamp.nanosec)


def test_the_camera_is_rate_limited_in_simulation_time(schemas):
    lua = camera_runtime(schemas, "cameraRate = 4, cameraWidth = 16, cameraHeight = 12, cameraDepth = false")
    g = lua.globals()
    render(lua, *synthetic_frame(16, 12))
    for k in range(101):  # 1 s at 10 ms
        g.simTime = 0.01 * k
        g.sysCall_sensing()
    assert len(published(lua, "/camera/color/image_raw")) == 5  # 0, 0.25, 0.5, 0.75, 1.0 s
    assert g.sensorOf(CAMERA).handled == 5, "the sensor is rendered for the frames published, not every step"
    assert published(lua, "/camera/depth/image_raw") == []
    assert not any(c[2].startswith("/camera/depth") for c in g.calls.created.values())


def test_a_scene_sensor_keeps_its_own_setup_and_k_follows_it(schemas):
    lua = make_runtime(schemas)
    build_scene(lua)
    g = lua.globals()
    g.addObject(None, "Camera", "visionsensor", CAMERA)
    sensor = g.sensorOf(CAMERA)  # the stand-in's sensor: 256 x 128, 60 degrees, perspective
    sensor.perspective = 1
    lua.execute("latentNodesConfig = {cameraRate = 2, cameraMount = false, cameraDepth = false}")
    lua.execute(SCRIPT.read_text())
    g.sysCall_init()
    assert (sensor.res[1], sensor.res[2]) == (256, 128), "cameraMount = false leaves the scene's sensor alone"
    render(lua, *synthetic_frame(256, 128))
    g.sysCall_sensing()
    k = list(published(lua, "/camera/color/camera_info")[-1].k.values())
    assert k[0] == pytest.approx(128 / math.tan(math.radians(30)))  # 60 degrees across the 256 px side
    assert k[4] == k[0] and k[2] == pytest.approx(127.5) and k[5] == pytest.approx(63.5)


def test_an_orthographic_or_missing_sensor_stops_the_script(schemas):
    lua = make_runtime(schemas)
    build_scene(lua)
    lua.globals().addObject(None, "Camera", "visionsensor", CAMERA)
    lua.execute("latentNodesConfig = {cameraRate = 2, cameraMount = false}")
    lua.execute(SCRIPT.read_text())
    with pytest.raises(lupa.LuaError, match="orthographic; a camera needs perspective mode"):
        lua.globals().sysCall_init()
    lua = make_runtime(schemas)
    build_scene(lua)
    lua.execute("latentNodesConfig = {cameraRate = 2}")
    lua.execute(SCRIPT.read_text())
    with pytest.raises(lupa.LuaError, match="no object at /Camera"):
        lua.globals().sysCall_init()


@pytest.mark.parametrize("as_string, data, error", [
    (False, "'abc'", "field data: fast_write_type uint8[] reader exception #1"),
    (True, "''", "field data: string read error when trying to read uint8[]"),
    (True, "{1, 2, 3}", "field data: string read error when trying to read uint8[]"),
])
def test_image_data_is_read_as_simros2_reads_uint8_arrays(bare, as_string, data, error):
    g = bare.globals()
    pub = g.simROS2.createPublisher("/image", "sensor_msgs/msg/Image")
    if as_string:
        g.simROS2.publisherTreatUInt8ArrayAsString(pub)
    with pytest.raises(lupa.LuaError, match=re.escape("read__sensor_msgs__msg__Image: " + error)):
        bare.eval(f"function(pub) simROS2.publish(pub, {{width = 1, data = {data}}}) end")(pub)


def test_camera_info_arrays_of_fixed_size_must_be_complete(bare):
    pub = bare.globals().simROS2.createPublisher("/info", "sensor_msgs/msg/CameraInfo")
    with pytest.raises(lupa.LuaError, match=re.escape("field k: fixed-size array of 9 given 8 items")):
        bare.eval("function(pub) simROS2.publish(pub, {k = {1, 0, 0, 0, 1, 0, 0, 0}}) end")(pub)
