"""The embedded MuJoCo world: a 9-joint Torobo-like arm, a table and a red block (no rclpy here)."""
