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
  and, with cameraRate > 0, a vision sensor as the embedded world's RGB-D camera (docs/camera.md):
  publishes   /camera/color/image_raw    sensor_msgs/msg/Image       rgb8, rows top first
              /camera/color/camera_info  sensor_msgs/msg/CameraInfo  K from the sensor's view angle, D = 0
              /camera/depth/image_raw    sensor_msgs/msg/Image       32FC1, metres along the optical axis
              /camera/depth/camera_info  sensor_msgs/msg/CameraInfo  the colour camera's (same pixels)

Attach it as a non-threaded Lua child script to the arm's base object (or load it from one, see
docs/coppeliasim.md). The stock simROS2 plugin lacks JointState, PoseStamped, Clock and CameraInfo: rebuild
it with the interfaces listed in docs/coppeliasim.md.

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
    -- The RGB-D camera: a perspective vision sensor published as a camera driver would, under the embedded
    -- world's names (docs/camera.md). cameraRate 0 publishes nothing, as the embedded sim's camera.rate 0.
    cameraPath = '/Camera',
    cameraRate = 0,         -- Hz of simulation time; 2 for perception:=camera (the embedded sim's rate there)
    cameraDepth = true,     -- also the depth image (32FC1, metres) and its CameraInfo
    cameraFrameId = 'camera_color_optical_frame',
    -- The mount, the embedded camera's (CameraConfig in latent_nodes/config.py): optical centre and the point
    -- the optical axis passes through in the table frame (metres), vertical field of view (degrees),
    -- resolution. With cameraMount the bridge puts the sensor there and sets its resolution, view angle and
    -- clipping planes, so the camera link of the published robot description holds for these images too;
    -- cameraMount = false keeps the scene's sensor as it is (the CameraInfo then follows its own view angle
    -- and resolution, and the start-up log gives its pose for the perception node's perception_camera_pose).
    cameraMount = true,
    cameraPosition = {0.95, 0.0, 0.85},
    cameraLookAt = {0.475, 0.0, 0.0},
    cameraFovy = 42.0,
    cameraWidth = 640,
    cameraHeight = 480,
    cameraClipping = {0.05, 3.0},  -- near and far clipping planes, metres: nothing nearer is drawn, depth stops at far
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

-- --- the RGB-D camera ------------------------------------------------------------------------------------

-- Host byte order of the floats sim.getVisionSensorDepth returns (sensor_msgs/Image is_bigendian).
HOST_BIG_ENDIAN = string.pack('=I4', 1) == string.pack('>I4', 1)

-- CoppeliaSim's perspective angle is the field of view along the image's longer side: x when
-- width > height, else y (coppeliaSimLib sourceCode/sceneObjects/visionSensor.cpp lines 1375-1383 and
-- 1193-1204 at coppeliasim-v4.9.0-rev6, the projection: the y angle is 2 atan(tan(angle / 2) / ratio) when
-- ratio = width / height > 1). This is the angle that gives a vertical field of view of fovy degrees.
function viewAngleFromFovy(fovy, width, height)
    local half = math.rad(fovy) / 2
    if width > height then
        return 2 * math.atan(math.tan(half) * width / height)
    end
    return 2 * half
end

-- K (row major) of a vision sensor with that perspective angle and resolution: square pixels,
-- f = (longer side / 2) / tan(angle / 2), the principal point at the image centre in OpenCV's pixel
-- convention (pixel centres at integers): the embedded camera's K for the same field of view
-- (latent_nodes/sim/camera.py intrinsics).
function cameraK(angle, width, height)
    local f = (math.max(width, height) / 2) / math.tan(angle / 2)
    return {f, 0, (width - 1) / 2, 0, f, (height - 1) / 2, 0, 0, 1}
end

local function normalize(v)
    local n = math.sqrt(v[1] * v[1] + v[2] * v[2] + v[3] * v[3])
    return {v[1] / n, v[2] / n, v[3] / n}
end

local function cross(a, b)
    return {a[2] * b[3] - a[3] * b[2], a[3] * b[1] - a[1] * b[3], a[1] * b[2] - a[2] * b[1]}
end

-- A vision sensor looks along its +z with its +y up in the image and its +x to the image's LEFT: it is
-- drawn through its inverse pose turned half a turn about y (visionSensor.cpp lines 1397-1403: m4.inverse();
-- m4.rotateAroundY(pi), a rotation applied after the inverse, simMath C4X4Matrix::rotateAroundY), i.e.
-- OpenGL's eye x = -sensor x, eye y = sensor y, and OpenGL looks along its eye's -z = sensor +z.
-- The optical frame (x right, y down, z forward; REP 103) is therefore the sensor's frame turned half a
-- turn about z. sensorMatrix is the sensor's pose (sim.setObjectMatrix's 12 numbers, row major [R | t])
-- for an optical centre at position looking at lookAt with the image's up towards table z, as
-- latent_nodes/sim/camera.py camera_pose.
function sensorMatrix(position, lookAt)
    local forward = normalize({lookAt[1] - position[1], lookAt[2] - position[2], lookAt[3] - position[3]})
    local right = normalize(cross(forward, {0, 0, 1}))
    local down = cross(forward, right)
    return {-right[1], -down[1], forward[1], position[1],
            -right[2], -down[2], forward[2], position[2],
            -right[3], -down[3], forward[3], position[3]}
end

-- The optical frame's pose {x, y, z, roll, pitch, yaw} (URDF rpy, radians) from a sensor matrix: what the
-- perception node's perception_camera_pose takes (latent_nodes/perception/camera_geometry.py).
function opticalPose(m)
    -- Columns of the optical rotation: right = -sensor x, down = -sensor y, forward = sensor z.
    local r11, r21, r31 = -m[1], -m[5], -m[9]
    local r32, r33 = -m[10], m[11]
    local pitch = math.asin(math.max(-1, math.min(1, -r31)))
    return {m[4], m[8], m[12], math.atan(r32, r33), pitch, math.atan(r21, r11)}
end

-- Image rows top first from OpenGL's bottom-up ones: sim.getVisionSensorImg and sim.getVisionSensorDepth
-- return the buffers as glReadPixels fills them, the bottom row first (visionSensor.cpp lines 1128-1137 and
-- readPortionOfCharImage, lines 250-340, which copies rows in that order); sensor_msgs/Image's first row is
-- the top one. Row by row, so the pixels themselves are never touched in Lua.
function flipRows(bytes, rowBytes, rows)
    local out = {}
    for r = 1, rows do
        local first = (rows - r) * rowBytes
        out[r] = string.sub(bytes, first + 1, first + rowBytes)
    end
    return table.concat(out)
end

local function setupCamera()
    camera = findObject(config.cameraPath)
    if config.cameraMount then
        sim.setObjectMatrix(camera, sensorMatrix(config.cameraPosition, config.cameraLookAt), tableFrame)
        sim.setObjectInt32Param(camera, sim.visionintparam_perspective_operation, 1)
        sim.setObjectInt32Param(camera, sim.visionintparam_resolution_x, config.cameraWidth)
        sim.setObjectInt32Param(camera, sim.visionintparam_resolution_y, config.cameraHeight)
        sim.setObjectFloatParam(camera, sim.visionfloatparam_perspective_angle,
            viewAngleFromFovy(config.cameraFovy, config.cameraWidth, config.cameraHeight))
        sim.setObjectFloatParam(camera, sim.visionfloatparam_near_clipping, config.cameraClipping[1])
        sim.setObjectFloatParam(camera, sim.visionfloatparam_far_clipping, config.cameraClipping[2])
    end
    if sim.getObjectInt32Param(camera, sim.visionintparam_perspective_operation) ~= 1 then
        error('latent_nodes bridge: the vision sensor at ' .. config.cameraPath .. ' is orthographic; '
            .. 'a camera needs perspective mode (or set cameraMount = true)')
    end
    -- K from what the sensor says, not from config: with cameraMount false the scene's values hold.
    cameraAngle = sim.getObjectFloatParam(camera, sim.visionfloatparam_perspective_angle)
    colorPub = simROS2.createPublisher('/camera/color/image_raw', 'sensor_msgs/msg/Image')
    simROS2.publisherTreatUInt8ArrayAsString(colorPub)
    colorInfoPub = simROS2.createPublisher('/camera/color/camera_info', 'sensor_msgs/msg/CameraInfo')
    if config.cameraDepth then
        depthPub = simROS2.createPublisher('/camera/depth/image_raw', 'sensor_msgs/msg/Image')
        simROS2.publisherTreatUInt8ArrayAsString(depthPub)
        depthInfoPub = simROS2.createPublisher('/camera/depth/camera_info', 'sensor_msgs/msg/CameraInfo')
    end
    lastCamera = -math.huge
    local res = sim.getVisionSensorRes(camera)
    local pose = opticalPose(sim.getObjectMatrix(camera, tableFrame))
    log(sim.verbosity_msgs, string.format('camera %s: %d x %d at %g Hz, view angle %.4f rad; optical frame in %s: '
        .. 'perception_camera_pose [%.4f, %.4f, %.4f, %.4f, %.4f, %.4f]', config.cameraPath, res[1], res[2],
        config.cameraRate, cameraAngle, config.frameId, table.unpack(pose)))
end

-- sensor_msgs/CameraInfo of an undistorted pinhole camera: plumb_bob with D = 0, R = I, P = [K | 0]
-- (latent_nodes/nodes/messages.py camera_info). Binning and ROI keep their defaults (none).
function cameraInfo(hdr, width, height)
    local k = cameraK(cameraAngle, width, height)
    return {header = hdr, width = width, height = height, distortion_model = 'plumb_bob', d = {0, 0, 0, 0, 0},
            k = k, r = {1, 0, 0, 0, 1, 0, 0, 0, 1},
            p = {k[1], k[2], k[3], 0, k[4], k[5], k[6], 0, k[7], k[8], k[9], 0}}
end

function publishCamera()
    sim.handleVisionSensor(camera)  -- render now (tick the sensor's "explicit handling": rendered only here)
    local hdr = header(config.cameraFrameId)
    local rgb, res = sim.getVisionSensorImg(camera)  -- 3 bytes a pixel, bottom row first
    local width, height = res[1], res[2]
    -- tostring: since 4.7 a buffer is a table whose __tostring gives its bytes (coppeliaSimLib
    -- sourceCode/scripting/luaWrapper.cpp luaWrap_lua_pushbuffer, lines 463-472); a plain string stays one.
    simROS2.publish(colorPub, {header = hdr, height = height, width = width, encoding = 'rgb8', is_bigendian = 0,
                               step = 3 * width, data = flipRows(tostring(rgb), 3 * width, height)})
    local info = cameraInfo(hdr, width, height)
    simROS2.publish(colorInfoPub, info)
    if depthPub then
        -- Option bit 0: metres, n + (f - n) d, instead of d normalized between the clipping planes
        -- (coppeliaSimLib sourceCode/interfaces/simInternal.cpp simGetVisionSensorDepth_internal, lines
        -- 7443-7493); d is already linear along the optical axis (visionSensor.cpp lines 1138-1150).
        local depth = sim.getVisionSensorDepth(camera, 1)  -- float32 in host order, bottom row first
        simROS2.publish(depthPub, {header = hdr, height = height, width = width, encoding = '32FC1',
                                   is_bigendian = HOST_BIG_ENDIAN and 1 or 0, step = 4 * width,
                                   data = flipRows(tostring(depth), 4 * width, height)})
        simROS2.publish(depthInfoPub, info)
    end
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
    if config.cameraRate > 0 then
        setupCamera()
    end
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
    if camera and t - lastCamera >= 1 / config.cameraRate - 1e-9 then
        lastCamera = t
        publishCamera()
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
    for _, pub in ipairs({colorPub, colorInfoPub, depthPub, depthInfoPub}) do
        simROS2.shutdownPublisher(pub)
    end
end
