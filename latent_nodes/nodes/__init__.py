"""ROS 2 adapters over the core: parameters and messages in, one core call, messages out."""
