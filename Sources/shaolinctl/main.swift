import ShaolinCore
print("shaolinctl")
