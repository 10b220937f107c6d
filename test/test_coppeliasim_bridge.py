"""The CoppeliaSim scene script against a stand-in of the sim and simROS2 Lua APIs.

CoppeliaSim itself is not available here, so this runs the script in a Lua interpreter (``lupa``) with
stubs that record calls, and checks that it implements the same topic contract as the embedded sim
node: topic names and types, joint names, message fields, and the refusals. Skipped without ``lupa``
(``pip install lupa``).
"""

from pathlib import Path

import pytest

from latent_nodes.nodes import messages

lupa = pytest.importorskip("lupa", reason="pip install lupa to run the scene script in Lua")

SCRIPT = Path(__file__).resolve().parent.parent / "coppeliasim" / "latent_nodes_bridge.lua"

STUBS = r"""
calls = {published = {}, targets = {}, positions = {}, logs = {}, created = {}}
local handles = {['/LBRiiwa'] = 100, ['/Block'] = 200, ['/TableFrame'] = 300}
local jointState = {}
sim = {
  verbosity_msgs = 1, verbosity_warnings = 2, verbosity_scriptinfos = 3, verbosity_errors = 4,
  object_joint_type = 1, handle_world = -1,
  getObject = function(path, opts) return handles[path] or -1 end,
  getObjectsInTree = function(base, kind, opts)
    local out = {}
    for i = 1, 9 do out[i] = 10 + i end
    return out
  end,
  getObjectAlias = function(h, opts) return '/LBRiiwa/joint' .. h end,
  addLog = function(level, text) table.insert(calls.logs, {level, text}) end,
  getSimulationTimeStep = function() return 0.01 end,
  getSimulationTime = function() return simTime end,
  setJointTargetPosition = function(h, q) calls.targets[h] = q end,
  setJointPosition = function(h, q) jointState[h] = q end,
  getJointPosition = function(h) return jointState[h] or 0.0 end,
  getJointVelocity = function(h) return 0.0 end,
  getObjectPosition = function(h, rel) return blockPosition end,
  getObjectQuaternion = function(h, rel) return {0, 0, 0, 1} end,
  setObjectPosition = function(h, p, rel)
    blockPosition = p
    calls.positions[#calls.positions + 1] = {h, p, rel}
  end,
  setObjectQuaternion = function(h, q, rel) end,
  resetDynamicObject = function(h) end,
}
simTime = 0.0
blockPosition = {0.5, 0.0, 0.02}
simROS2 = {
  createPublisher = function(topic, kind) table.insert(calls.created, {'pub', topic, kind}); return topic end,
  createSubscription = function(topic, kind, cb)
    table.insert(calls.created, {'sub', topic, kind, cb})
    return topic
  end,
  createService = function(name, kind, cb) table.insert(calls.created, {'srv', name, kind, cb}); return name end,
  publish = function(h, msg) table.insert(calls.published, {h, msg}) end,
  getSimulationTime = function() return {sec = math.floor(simTime), nanosec = 0} end,
  getTime = function() return {sec = 1, nanosec = 0} end,
  shutdownSubscription = function(h) end, shutdownPublisher = function(h) end, shutdownService = function(h) end,
}
package.preload['sim'] = function() return sim end
package.preload['simROS2'] = function() return simROS2 end
"""


@pytest.fixture()
def lua():
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.execute(STUBS)
    runtime.execute(SCRIPT.read_text())
    runtime.globals().sysCall_init()
    return runtime


def published(lua, topic):
    return [entry[2] for entry in lua.globals().calls.published.values() if entry[1] == topic]


def test_contract_matches_the_embedded_sim(lua):
    from latent_nodes.sim import arm

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
    lua.globals().sysCall_sensing()
    state = published(lua, messages.JOINT_STATES)[-1]
    assert list(state.name.values()) == list(arm.JOINT_NAMES) and len(state.position) == 9
    pose = published(lua, messages.SIM_BLOCK_POSE)[-1]
    assert pose.header.frame_id == "table" and pose.pose.position.x == 0.5 and pose.pose.orientation.w == 1


def test_commands_set_joint_targets_and_bad_ones_are_ignored(lua):
    g = lua.globals()
    names = list(g.config.jointNames.values())
    table = lua.table_from
    g.onJointCommand(lua.eval("function(n, p) return {name = n, position = p} end")(
        table(names), table([0.1 * i for i in range(9)])))
    assert [g.calls.targets[11 + i] for i in range(9)] == pytest.approx([0.1 * i for i in range(9)])
    before = dict(g.calls.targets)
    g.onJointCommand(lua.eval("function(n, p) return {name = n, position = p} end")(
        table(names[:8] + ["other"]), table([9.0] * 9)))
    g.onJointCommand(lua.eval("function(n, p) return {name = n, position = p} end")(
        table(names), table([float("nan")] + [9.0] * 8)))
    assert dict(g.calls.targets) == before
    assert sum("ignoring /joint_command" in entry[2] for entry in g.calls.logs.values()) == 2


def test_block_moves_only_onto_the_table_in_its_frame(lua):
    g = lua.globals()
    make = lua.eval("function(f, x, y) return {header = {frame_id = f}, pose = {position = {x = x, y = y}}} end")
    g.onSetBlock(make("table", 0.45, 0.1))
    g.onSetBlock(make("table", 2.0, 0.0))
    g.onSetBlock(make("camera", 0.45, 0.1))
    g.onSetBlock(make("table", float("nan"), 0.0))
    moves = list(g.calls.positions.values())
    assert len(moves) == 1 and list(moves[0][2].values()) == pytest.approx([0.45, 0.1, 0.02])
    assert moves[0][3] == 300  # relative to the table frame
    assert published(lua, messages.SIM_BLOCK_POSE)[-1].pose.position.y == pytest.approx(0.1)


def test_reset_puts_the_arm_home(lua):
    from latent_nodes.sim import arm

    g = lua.globals()
    assert list(g.config.home.values()) == pytest.approx(arm.HOME, abs=1e-4)
    response = g.onReset(lua.table())
    assert response.success
    assert [g.calls.targets[11 + i] for i in range(9)] == pytest.approx(list(arm.HOME), abs=1e-4)


def test_signs_and_offsets_map_other_arms(lua):
    g = lua.globals()
    g.config.jointSigns[4] = -1
    g.config.jointOffsets[2] = 0.5
    names = list(g.config.jointNames.values())
    g.onJointCommand(lua.eval("function(n, p) return {name = n, position = p} end")(
        lua.table_from(names), lua.table_from([0.1] * 9)))
    assert g.calls.targets[14] == pytest.approx(-0.1) and g.calls.targets[12] == pytest.approx(0.6)
    g.sysCall_sensing()
    state = [entry[2] for entry in g.calls.published.values() if entry[1] == messages.JOINT_STATES][-1]
    assert list(state.position.values())[1] == pytest.approx(-0.5)  # scene joint at 0 is contract -offset
