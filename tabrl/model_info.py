"""What a catalog entry holds (`ModelEntry`) and what people read about each model: a name and one sentence.

The one place for hand-written model metadata; `tabrl.catalog` joins it with
what is measured from the environment (sizes, availability, thumbnail). A
registry id missing here still appears in the catalog, with a name derived
from its id, so a newer Playground never hides a model.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Literal

from pydantic import BaseModel

Family = Literal["dm_control_suite", "locomotion", "manipulation"]
# Bump when the probe or the thumbnail camera changes, to rebuild old caches.
CATALOG_FORMAT = 2


class ModelEntry(BaseModel):
    id: str
    name: str
    family: Family
    description: str
    observation_size: int | None = None
    """Size of the observation the policy sees (the `state` entry for dict observations)."""
    observation_shapes: dict[str, list[int]] | None = None
    """Every entry of a dict observation (e.g. Go1's `privileged_state` for the critic)."""
    action_size: int | None = None
    dof: int | None = None
    """Degrees of freedom of the simulated model (`nv`)."""
    thumbnail: str | None = None
    base_policy: bool = False
    base_policy_source: str | None = None
    """Where the base policy comes from, in a few words (for the badge)."""
    available: bool = False
    unavailable_reason: str | None = None
    meshes_missing: bool = False
    """Unavailable only because its robot meshes are not here yet; picking it downloads them."""


def library_versions() -> dict[str, str]:
    """What a catalog depends on besides TabRL itself."""
    return {name: importlib.metadata.version(name) for name in ("playground", "mujoco", "mujoco-mjx")}


# id -> (name for people, one-sentence description)
MODEL_INFO: dict[str, tuple[str, str]] = {
    # --- DeepMind Control Suite ---
    "AcrobotSwingup": ("Acrobot swing-up", "A two-link pendulum with one motor at the elbow swings itself up and balances upright."),
    "AcrobotSwingupSparse": ("Acrobot swing-up (sparse)", "The acrobot swing-up, rewarded only when the tip is right at the top."),
    "BallInCup": ("Ball in cup", "A cup on a planar arm swings a ball on a string and catches it."),
    "CartpoleBalance": ("Cart-pole balance", "A cart slides left and right to keep a pole balanced upright."),
    "CartpoleBalanceSparse": ("Cart-pole balance (sparse)", "Keep the pole up, rewarded only while it stays within a narrow band."),
    "CartpoleSwingup": ("Cart-pole swing-up", "The pole starts hanging down; the cart swings it up and keeps it there."),
    "CartpoleSwingupSparse": ("Cart-pole swing-up (sparse)", "The cart-pole swing-up, rewarded only when the pole is upright."),
    "CheetahRun": ("Half-cheetah run", "A planar two-legged cheetah learns to run forward as fast as it can."),
    "FingerSpin": ("Finger spin", "A two-joint finger flicks a hinged spinner to keep it turning."),
    "FingerTurnEasy": ("Finger turn (easy)", "A finger rotates a hinged body until its tip reaches a wide target."),
    "FingerTurnHard": ("Finger turn (hard)", "A finger rotates a hinged body until its tip reaches a small target."),
    "FishSwim": ("Fish swim", "A fish with fins swims through fluid towards a target."),
    "HopperHop": ("Hopper hop", "A one-legged planar hopper hops forward."),
    "HopperStand": ("Hopper stand", "A one-legged planar hopper stands up and stays upright."),
    "HumanoidStand": ("Humanoid stand", "A 21-joint humanoid gets up and stands still."),
    "HumanoidWalk": ("Humanoid walk", "A 21-joint humanoid walks forward at a steady pace."),
    "HumanoidRun": ("Humanoid run", "A 21-joint humanoid runs forward fast."),
    "PendulumSwingup": ("Pendulum swing-up", "A torque-limited pendulum pumps energy to swing up and balance."),
    "PointMass": ("Point mass", "A ball on a plane, pushed by two motors, rolls to the target."),
    "ReacherEasy": ("Reacher (easy)", "A two-link arm reaches for a large target on a table."),
    "ReacherHard": ("Reacher (hard)", "A two-link arm reaches for a small target on a table."),
    "SwimmerSwimmer6": ("Swimmer, six links", "A six-link snake swims through fluid towards a target."),
    "WalkerRun": ("Walker run", "A planar biped runs forward."),
    "WalkerStand": ("Walker stand", "A planar biped stands up tall."),
    "WalkerWalk": ("Walker walk", "A planar biped walks forward."),
    # --- Locomotion ---
    "ApolloJoystickFlatTerrain": ("Apptronik Apollo, joystick", "A full-size Apptronik Apollo humanoid walks where a joystick points it on flat ground."),
    "BarkourJoystick": ("Google Barkour, joystick", "Google's Barkour quadruped follows joystick velocity commands."),
    "BerkeleyHumanoidJoystickFlatTerrain": ("Berkeley Humanoid, joystick (flat)", "The small Berkeley Humanoid walks to joystick commands on flat ground."),
    "BerkeleyHumanoidJoystickRoughTerrain": ("Berkeley Humanoid, joystick (rough)", "The Berkeley Humanoid walks to joystick commands over rough ground."),
    "G1JoystickFlatTerrain": ("Unitree G1, joystick (flat)", "Unitree's G1 humanoid walks to joystick commands on flat ground."),
    "G1JoystickRoughTerrain": ("Unitree G1, joystick (rough)", "Unitree's G1 humanoid walks to joystick commands over rough ground."),
    "Go1JoystickFlatTerrain": ("Unitree Go1, joystick (flat)", "Unitree's Go1 robot dog trots wherever the joystick points on flat ground."),
    "Go1JoystickRoughTerrain": ("Unitree Go1, joystick (rough)", "The Go1 robot dog follows joystick commands over bumpy terrain."),
    "Go1Getup": ("Unitree Go1, get up", "The Go1 robot dog rolls back onto its feet from any fall."),
    "Go1Handstand": ("Unitree Go1, handstand", "The Go1 robot dog balances on its front legs with its back legs in the air."),
    "Go1Footstand": ("Unitree Go1, footstand", "The Go1 robot dog rears up and balances on its hind legs."),
    "H1InplaceGaitTracking": ("Unitree H1, stepping in place", "Unitree's H1 humanoid steps in place following a gait rhythm."),
    "H1JoystickGaitTracking": ("Unitree H1, joystick gait", "Unitree's H1 humanoid walks to joystick commands with a tracked gait."),
    "Op3Joystick": ("Robotis OP3, joystick", "The small Robotis OP3 humanoid walks to joystick commands."),
    "SpotFlatTerrainJoystick": ("Boston Dynamics Spot, joystick", "Spot follows joystick velocity commands on flat ground."),
    "SpotGetup": ("Boston Dynamics Spot, get up", "Spot gets back on its feet after a fall."),
    "SpotJoystickGaitTracking": ("Boston Dynamics Spot, joystick gait", "Spot walks to joystick commands with a tracked foot rhythm."),
    "T1JoystickFlatTerrain": ("Booster T1, joystick (flat)", "Booster's T1 humanoid walks to joystick commands on flat ground."),
    "T1JoystickRoughTerrain": ("Booster T1, joystick (rough)", "Booster's T1 humanoid walks to joystick commands over rough ground."),
    # --- Manipulation ---
    "AlohaHandOver": ("ALOHA hand-over", "Two ALOHA arms pass an object from one gripper to the other."),
    "AlohaSinglePegInsertion": ("ALOHA peg insertion", "Two ALOHA arms pick up a peg and a socket and fit one into the other."),
    "PandaPickCube": ("Franka Panda pick cube", "A Franka Panda arm picks up a cube and lifts it to a target."),
    "PandaPickCubeOrientation": ("Franka Panda pick and orient", "A Franka Panda arm lifts a cube to a target position and orientation."),
    "PandaPickCubeCartesian": ("Franka Panda pick (Cartesian)", "A Franka Panda arm picks up a cube, commanded in Cartesian space."),
    "PandaOpenCabinet": ("Franka Panda open cabinet", "A Franka Panda arm grabs a cabinet handle and pulls the door open."),
    "PandaRobotiqPushCube": ("Panda with Robotiq, push cube", "A Panda arm with a Robotiq gripper pushes a cube to a goal."),
    "LeapCubeReorient": ("LEAP hand, reorient cube", "A four-fingered LEAP hand turns a cube in its palm to a goal orientation."),
    "LeapCubeRotateZAxis": ("LEAP hand, spin cube", "A four-fingered LEAP hand spins a cube around the vertical axis."),
    "AeroCubeRotateZAxis": ("Aero hand, spin cube", "Tetheria's Aero hand spins a cube around the vertical axis."),
}


def humanize(model_id: str) -> str:
    """`Go1JoystickFlatTerrain` -> `Go1 Joystick Flat Terrain`, for ids without an entry."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", model_id)


def name_and_description(model_id: str, family: str) -> tuple[str, str]:
    if model_id in MODEL_INFO:
        return MODEL_INFO[model_id]
    return humanize(model_id), f"A MuJoCo Playground {family.replace('_', ' ')} task."
