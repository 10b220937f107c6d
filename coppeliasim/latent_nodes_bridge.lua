--[[
latent_nodes bridge: CoppeliaSim's side of the latent_nodes topic contract (CoppeliaSim 4.6 or newer,
simROS2 plugin). It plays the part of the embedded `sim` node, so `ros2 launch latent_nodes
demo.launch.py sim:=coppeliasim` drives this scene with nothing else changed:

  subscribes  /joint_command   sensor_msgs/msg/JointState       joint position targets from the commander
              /sim/set_block   geometry_msgs/msg/PoseStamped    move the block (table frame)
  publishes   /joint_states    sensor_msgs/msg/JointState       all 9 joints, every simulation step
              /sim/block_pose  geometry_msgs/msg/PoseStamped    the block's true pose (table frame)
              /clock           rosgraph_msgs/msg/Clock          simulation time (for use_sim_time:=true)
  serves      /sim/reset       std_srvs/srv/Trigger             put the arm back home

Attach it as a non-threaded Lua child script to the arm's base object (or load it from one, see
docs/coppeliasim.md). The stock simROS2 plugin lacks JointState, PoseStamped and Clock: rebuild it with
the interfaces listed in docs/coppeliasim.md.

Messages are tables that simROS2's generated reader checks field by field: every key must be a field of
the type, and a string field must be a non-empty string (an empty one raises "expected string"). A field
left out keeps its ROS default (empty string, zero, empty array), so the script omits what it does not
set.
]]

sim = require 'sim'
simROS2 = require 'simROS2'

-- Configuration: edit to map your scene onto the contract, or set a global table latentNodesConfig
-- with the fields to change before loading this file (see docs/coppeliasim.md).
config = {
    -- ROS joint names, in the order of /joint_states: the embedded arm's (latent_nodes/sim/arm.py), a
    -- 7-joint S-R-S arm (shoulder yaw, pitch, roll; elbow pitch; forearm roll; wrist pitch; flange roll)
    -- with two revolute fingers.
    jointNames = {'arm_joint_1', 'arm_joint_2', 'arm_joint_3', 'arm_joint_4', 'arm_joint_5', 'arm_joint_6',
                  'arm_joint_7', 'finger_joint_left', 'finger_joint_right'},
    -- The arm model: its base object; its joints are taken in the order sim.getObjectsInTree returns
    -- them, breadth first (level by level, each level in the scene's child order), and mapped one to one
    -- onto jointNames. A serial arm's joints come first, but a gripper's joints at unequal depths come
    -- level by level, not finger by finger: set jointPaths to name each joint's object explicitly.
    armPath = '/LBRiiwa',
    jointPaths = nil,  -- e.g. {'/LBRiiwa/joint', ...}: one object path per entry of jointNames
    -- Scene joint = sign * contract joint + offset, per joint: for an arm whose zero pose or axis
    -- directions differ from the embedded arm's (both stand upright at zero, axes z, y, z, y, z, y, z).
    jointSigns = {1, 1, 1, 1, 1, 1, 1, 1, 1},
    jointOffsets = {0, 0, 0, 0, 0, 0, 0, 0, 0},
    -- Home pose for /sim/reset in contract units (radians), jointNames order: latent_nodes/sim/arm.py HOME.
    home = {0.0, 0.22, 0.0, 2.02, 0.0, 0.9016, 0.0, 0.05, 0.05},
    -- The red block, and a dummy whose frame is the table frame the model was trained in: origin at the
    -- arm's base, level with the table surface, x forward from the base, y to its left, z up.
    blockPath = '/Block',
    tableFramePath = '/TableFrame',
    frameId = 'table',
    tableX = {0.20, 0.80},  -- table extent in the table frame, metres (SimConfig.table_x / table_y)
    tableY = {-0.45, 0.45},
    blockSize = 0.04,
    -- The block positions the shipped model was trained on (SimConfig.workspace_x / workspace_y) and the
    -- inference node's default domain_margin: a block further outside is refused there (out_of_domain),
    -- so placing one is allowed here but warned about. A model trained on other positions has its own
    -- region: the inference node's start-up line names it.
    workspaceX = {0.35, 0.60},
    workspaceY = {-0.20, 0.20},
    domainMargin = 0.02,
    blockPoseRate = 10,     -- Hz; /joint_states goes out every simulation step (set dt to 10 ms)
    publishClock = true,    -- /clock from simulation time, for nodes run with use_sim_time:=true
}

for key, value in pairs(latentNodesConfig or {}) do
    config[key] = value
end

local function log(level, text)
    sim.addLog(level, 'latent_nodes bridge: ' .. text)
end

local function finite(x)
    return type(x) == 'number' and x == x and x ~= math.huge and x ~= -math.huge
end

-- Contract (embedded arm) joint values <-> the scene's joints.
function toScene(i, q)
    return config.jointSigns[i] * q + config.jointOffsets[i]
end

function fromScene(i, q)
    return (q - config.jointOffsets[i]) * config.jointSigns[i]
end

local function stamp()
    if config.publishClock then
        return simROS2.getSimulationTime()
    end
    return simROS2.getTime()
end

-- A std_msgs/Header; an empty frame id is left out (simROS2 refuses empty strings, and '' is the default).
local function header(frameId)
    if frameId == nil or frameId == '' then
        return {stamp = stamp()}
    end
    return {stamp = stamp(), frame_id = frameId}
end

local function findObject(path)
    local handle = sim.getObject(path, {noError = true})
    if handle == nil or handle == -1 then
        error('latent_nodes bridge: no object at ' .. path .. ' (edit config in the script)')
    end
    return handle
end

local function findJoints()
    local handles = {}
    if config.jointPaths then
        for i, path in ipairs(config.jointPaths) do
            handles[i] = findObject(path)
        end
    else
        local jointType = sim.sceneobject_joint or sim.object_joint_type  -- renamed in newer releases
        handles = sim.getObjectsInTree(findObject(config.armPath), jointType, 0)
    end
    if #handles ~= #config.jointNames then
        error(string.format('latent_nodes bridge: found %d joints under %s, the contract has %d (%s); '
            .. 'set config.jointPaths', #handles, config.armPath, #config.jointNames,
            table.concat(config.jointNames, ', ')))
    end
    for i, handle in ipairs(handles) do
        local ok, path = pcall(sim.getObjectAlias, handle, 2)  -- 2: the object's full path
        log(sim.verbosity_scriptinfos, config.jointNames[i] .. ' <- ' .. (ok and path or sim.getObjectAlias(handle)))
    end
    return handles
end

function sysCall_init()
    if not simROS2 then
        error('latent_nodes bridge: the simROS2 plugin is not loaded')
    end
    joints = findJoints()
    armBase = findObject(config.armPath)  -- /sim/reset resets its dynamics, jointPaths or not
    block = findObject(config.blockPath)
    tableFrame = findObject(config.tableFramePath)
    jointIndex = {}
    for i, name in ipairs(config.jointNames) do
        jointIndex[name] = i
    end
    if sim.getSimulationTimeStep() > 0.02 then
        log(sim.verbosity_warnings, string.format('simulation dt is %.0f ms: /joint_states will be slower '
            .. 'than 50 Hz; set dt to 10 ms in the simulation settings', 1000 * sim.getSimulationTimeStep()))
    end

    jointStatePub = simROS2.createPublisher('/joint_states', 'sensor_msgs/msg/JointState')
    blockPub = simROS2.createPublisher('/sim/block_pose', 'geometry_msgs/msg/PoseStamped')
    if config.publishClock then
        clockPub = simROS2.createPublisher('/clock', 'rosgraph_msgs/msg/Clock')
    end
    commandSub = simROS2.createSubscription('/joint_command', 'sensor_msgs/msg/JointState', 'onJointCommand')
    setBlockSub = simROS2.createSubscription('/sim/set_block', 'geometry_msgs/msg/PoseStamped', 'onSetBlock')
    resetSrv = simROS2.createService('/sim/reset', 'std_srvs/srv/Trigger', 'onReset')
    lastBlockPose = -math.huge
    log(sim.verbosity_msgs, string.format('ready: %d joints, block %s, table frame %s',
        #joints, config.blockPath, config.tableFramePath))
end

-- /joint_command: all joints by name, finite; anything else is ignored with a warning.
function onJointCommand(msg)
    if #msg.name ~= #msg.position then
        log(sim.verbosity_warnings, 'ignoring /joint_command: names and positions differ in length')
        return
    end
    local targets = {}
    for k, name in ipairs(msg.name) do
        local i = jointIndex[name]
        if i and finite(msg.position[k]) then
            targets[i] = msg.position[k]
        end
    end
    for i = 1, #joints do
        if targets[i] == nil then
            log(sim.verbosity_warnings, 'ignoring /joint_command: no finite target for ' .. config.jointNames[i])
            return
        end
    end
    for i, handle in ipairs(joints) do
        sim.setJointTargetPosition(handle, toScene(i, targets[i]))
    end
end

local function publishBlock()
    local p = sim.getObjectPosition(block, tableFrame)
    local q = sim.getObjectQuaternion(block, tableFrame)  -- {x, y, z, w}
    simROS2.publish(blockPub, {
        header = header(config.frameId),
        pose = {position = {x = p[1], y = p[2], z = p[3]}, orientation = {x = q[1], y = q[2], z = q[3], w = q[4]}},
    })
end

-- /sim/set_block: place the block upright on the table at (x, y) of the table frame.
function onSetBlock(msg)
    local frame = msg.header.frame_id
    if frame ~= '' and frame ~= config.frameId then
        log(sim.verbosity_warnings, 'ignoring /sim/set_block in frame ' .. frame .. '; expected ' .. config.frameId)
        return
    end
    local x, y = msg.pose.position.x, msg.pose.position.y
    if not (finite(x) and finite(y)) or x < config.tableX[1] or x > config.tableX[2]
            or y < config.tableY[1] or y > config.tableY[2] then
        log(sim.verbosity_warnings, string.format('ignoring /sim/set_block: (%s, %s) is off the table', x, y))
        return
    end
    sim.setObjectPosition(block, {x, y, config.blockSize / 2}, tableFrame)
    sim.setObjectQuaternion(block, {0, 0, 0, 1}, tableFrame)
    sim.resetDynamicObject(block)
    publishBlock()
    local outside = outsideWorkspace(x, y)
    if outside > config.domainMargin then
        log(sim.verbosity_warnings, string.format(
            'block at (%.3f, %.3f) m is %.3f m outside the trained region (x %.3f-%.3f, y %.3f-%.3f m; '
            .. 'margin %g m): the inference node will refuse it', x, y, outside, config.workspaceX[1],
            config.workspaceX[2], config.workspaceY[1], config.workspaceY[2], config.domainMargin))
    end
end

-- Metres from (x, y) to the trained workspace rectangle, 0 inside (latent_nodes/inference/domain.py measures the
-- same for the default dataset, whose training positions fill that rectangle).
function outsideWorkspace(x, y)
    local dx = math.max(config.workspaceX[1] - x, 0, x - config.workspaceX[2])
    local dy = math.max(config.workspaceY[1] - y, 0, y - config.workspaceY[2])
    return math.sqrt(dx * dx + dy * dy)
end

-- /sim/reset: the arm back home, holding there. Dynamic joints: the physics engine owns their state, so
-- the new positions take effect when the arm's dynamics are reset (sim.resetDynamicObject on the model).
-- Kinematic joints: CoppeliaSim (since 4.7.0 rev 2) ignores sim.setJointPosition while a target motion
-- is under way, so those glide home under the target instead, at their motion profile's speed.
function onReset(request)
    for i, handle in ipairs(joints) do
        local home = toScene(i, config.home[i])
        sim.setJointPosition(handle, home)
        sim.setJointTargetPosition(handle, home)
    end
    sim.resetDynamicObject(armBase + sim.handleflag_model)
    return {success = true, message = 'arm at home'}
end

function sysCall_sensing()
    local now = stamp()
    local positions, velocities = {}, {}
    for i, handle in ipairs(joints) do
        positions[i] = fromScene(i, sim.getJointPosition(handle))
        velocities[i] = config.jointSigns[i] * sim.getJointVelocity(handle)
    end
    if clockPub then
        simROS2.publish(clockPub, {clock = simROS2.getSimulationTime()})
    end
    -- No frame id, no effort: both keep their defaults ('' and empty).
    simROS2.publish(jointStatePub, {
        header = {stamp = now}, name = config.jointNames, position = positions, velocity = velocities,
    })
    local t = sim.getSimulationTime()
    if t - lastBlockPose >= 1 / config.blockPoseRate - 1e-9 then
        lastBlockPose = t
        publishBlock()
    end
end

function sysCall_cleanup()
    simROS2.shutdownSubscription(commandSub)
    simROS2.shutdownSubscription(setBlockSub)
    simROS2.shutdownService(resetSrv)
    simROS2.shutdownPublisher(jointStatePub)
    simROS2.shutdownPublisher(blockPub)
    if clockPub then
        simROS2.shutdownPublisher(clockPub)
    end
end
